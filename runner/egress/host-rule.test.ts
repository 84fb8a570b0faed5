import { describe, expect, it } from "vitest";
import { isIPLiteral, refusalOf } from "./address-rule.ts";
import { matchesRule, parseHostRule, ruleOfURL } from "./host-rule.ts";

describe("host rules", () => {
  it("parses hosts, wildcards and ports, and refuses anything else", () => {
    expect(parseHostRule("Pkg.Example.ORG.")).toEqual({ ok: true, value: { host: "pkg.example.org" } });
    expect(parseHostRule("*.example.org:8443")).toEqual({ ok: true, value: { host: "*.example.org", port: 8443 } });
    expect(parseHostRule("127.0.0.1:4873")).toEqual({ ok: true, value: { host: "127.0.0.1", port: 4873 } });
    for (const bad of ["", "a b", "http://x", "x:0", "x:70000", "*", "*.", "x/y"]) expect(parseHostRule(bad).ok, bad).toBe(false);
  });

  it("matches a host on 443 and 80 unless the rule names a port; a wildcard matches subdomains only", () => {
    const plain = { host: "pkg.example.org" };
    expect(matchesRule(plain, "PKG.example.org", 443)).toBe(true);
    expect(matchesRule(plain, "pkg.example.org", 80)).toBe(true);
    expect(matchesRule(plain, "pkg.example.org", 22)).toBe(false);
    expect(matchesRule(plain, "evil-pkg.example.org", 443)).toBe(false);
    const wild = { host: "*.example.org" };
    expect(matchesRule(wild, "a.b.example.org", 443)).toBe(true);
    expect(matchesRule(wild, "example.org", 443)).toBe(false);
    expect(matchesRule(wild, "notexample.org", 443)).toBe(false);
    expect(matchesRule({ host: "h.test", port: 8080 }, "h.test", 8080)).toBe(true);
    expect(matchesRule({ host: "h.test", port: 8080 }, "h.test", 443)).toBe(false);
  });

  it("takes a URL's host and its port, explicit or the scheme's", () => {
    expect(ruleOfURL("https://mirror.test/simple/")).toEqual({ host: "mirror.test", port: 443 });
    expect(ruleOfURL("http://127.0.0.1:4873/")).toEqual({ host: "127.0.0.1", port: 4873 });
    expect(ruleOfURL("file:///srv")).toBeUndefined();
    expect(ruleOfURL("not a url")).toBeUndefined();
  });
});

describe("the address rule", () => {
  it("refuses loopback, private, link-local, metadata, reserved and mapped addresses", () => {
    for (const ip of ["127.0.0.1", "127.9.9.9", "0.0.0.0", "10.1.1.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "100.64.0.1", "169.254.169.254", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1"]) {
      expect(refusalOf(ip), ip).toBeDefined();
    }
  });

  it("lets public addresses through, and loopback only when asked", () => {
    for (const ip of ["93.184.216.34", "172.32.0.1", "2606:4700::1111"]) expect(refusalOf(ip), ip).toBeUndefined();
    expect(refusalOf("127.0.0.1", { allowLoopback: true })).toBeUndefined();
    expect(refusalOf("::1", { allowLoopback: true })).toBeUndefined();
    expect(refusalOf("10.0.0.1", { allowLoopback: true })).toBeDefined();
  });

  it("knows an IP literal from a name", () => {
    expect(isIPLiteral("10.0.0.1")).toBe(true);
    expect(isIPLiteral("[::1]")).toBe(true);
    expect(isIPLiteral("registry.test")).toBe(false);
  });
});
