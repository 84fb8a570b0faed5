import { readFileSync, statSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "./config-keys.ts";
import { configPath, loadConfig, redactConfig, writeConfigFile } from "./config.ts";
import { testDir } from "./testing/temp-dir.ts";

const home = () => testDir("tether-config-");

describe("loadConfig", () => {
  it("applies defaults when nothing is set", () => {
    const h = home();
    const r = loadConfig({}, { TETHER_RUNNER_HOME: h });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ home: h, workerImage: "tether-worker:latest", capacity: 2, poolSize: 1, sandbox: "docker", push: false, batchMaxEvents: 100, batchMaxMs: 10 });
    expect(r.value.anthropicAPIKey).toBeUndefined();
  });

  it("turns the pool off with poolSize 0 and refuses a negative one", () => {
    const h = home();
    const off = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_POOL_SIZE: "0" });
    expect(off.ok && off.value.poolSize).toBe(0);
    const bad = loadConfig({ poolSize: "-1" }, { TETHER_RUNNER_HOME: h });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.join()).toMatch(/poolSize \(--pool-size, TETHER_POOL_SIZE/);
  });

  it("takes flags over environment over file", () => {
    const h = home();
    writeConfigFile(h, { capacity: 3, workerImage: "from-file", labels: ["gpu"] });
    const env = { TETHER_RUNNER_HOME: h, TETHER_CAPACITY: "5", ANTHROPIC_API_KEY: "sk-test", TETHER_PUSH: "yes" };
    const r = loadConfig({ capacity: "7" }, env);
    expect(r.ok && r.value).toMatchObject({ capacity: 7, workerImage: "from-file", labels: ["gpu"], anthropicAPIKey: "sk-test", push: true });
    const r2 = loadConfig({}, env);
    expect(r2.ok && r2.value.capacity).toBe(5);
  });

  it("takes model prices as JSON from the environment, a flag or the file, and names a bad one", () => {
    const h = home();
    const price = { input: 1, output: 2, cacheWrite: 1.25, cacheRead: 0.1 };
    const fromEnv = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_MODEL_PRICES: JSON.stringify({ "my-model": price }) });
    expect(fromEnv.ok && fromEnv.value.modelPrices).toEqual({ "my-model": price });
    writeConfigFile(h, { modelPrices: { "file-model": price } });
    const fromFile = loadConfig({}, { TETHER_RUNNER_HOME: h });
    expect(fromFile.ok && fromFile.value.modelPrices).toEqual({ "file-model": price });
    const fromFlag = loadConfig({ modelPrices: JSON.stringify({ "flag-model": price }) }, { TETHER_RUNNER_HOME: h });
    expect(fromFlag.ok && fromFlag.value.modelPrices).toEqual({ "flag-model": price });
    for (const bad of ["{not json", JSON.stringify({ m: { input: 1 } })]) {
      const r = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_MODEL_PRICES: bad });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error.join("\n")).toMatch(/modelPrices \(--model-prices, TETHER_MODEL_PRICES/);
    }
  });

  it("takes allowed images as a comma-separated list or a file's array, and names a bad reference", () => {
    const h = home();
    const none = loadConfig({}, { TETHER_RUNNER_HOME: h });
    expect(none.ok && none.value.allowedImages).toEqual([]);
    const fromEnv = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_ALLOWED_IMAGES: "tether-worker:envs-alt, registry.test:5000/team/node:22" });
    expect(fromEnv.ok && fromEnv.value.allowedImages).toEqual(["tether-worker:envs-alt", "registry.test:5000/team/node:22"]);
    writeConfigFile(h, { allowedImages: ["node:22"] });
    const fromFile = loadConfig({}, { TETHER_RUNNER_HOME: h });
    expect(fromFile.ok && fromFile.value.allowedImages).toEqual(["node:22"]);
    const bad = loadConfig({ allowedImages: "node:22,Not An Image" }, { TETHER_RUNNER_HOME: h });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error.join("\n")).toMatch(/allowedImages \(--allowed-images, TETHER_ALLOWED_IMAGES/);
  });

  it("splits comma labels and rejects bad ones, naming flag and variable", () => {
    const h = home();
    const good = loadConfig({ labels: "a, b:c" }, { TETHER_RUNNER_HOME: h });
    expect(good.ok && good.value.labels).toEqual(["a", "b:c"]);
    const bad = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_LABELS: "ok,no spaces!" });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.error[0]).toContain("--labels");
    expect(bad.error[0]).toContain("TETHER_LABELS");
  });

  it("takes egress rules, refuses bad ones, and refuses the loopback test switch unless local repositories are allowed too", () => {
    const h = home();
    const rules = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_EGRESS_ALLOW: "mirror.test, *.pkg.test:8443" });
    expect(rules.ok && rules.value).toMatchObject({ egressAllow: ["mirror.test", "*.pkg.test:8443"], egressAllowLoopbackForTests: false, cacheMaxMB: 5120, setupTimeoutMinutes: 20 });
    const bad = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_EGRESS_ALLOW: "http://x.test" });
    expect(!bad.ok && bad.error[0]).toContain("TETHER_EGRESS_ALLOW");
    const alone = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_EGRESS_ALLOW_LOOPBACK_FOR_TESTS: "true" });
    expect(!alone.ok && alone.error[0]).toContain("allowLocalRepos");
    const both = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_EGRESS_ALLOW_LOOPBACK_FOR_TESTS: "true", TETHER_ALLOW_LOCAL_REPOS: "true" });
    expect(both.ok && both.value.egressAllowLoopbackForTests).toBe(true);
  });

  it("gives the git token to no host and refuses server-side model tools unless told", () => {
    const h = home();
    const r = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_GIT_TOKEN: "ghp_x" });
    expect(r.ok && r.value.gitCredentialHosts).toEqual([]);
    expect(r.ok && r.value.modelServerTools).toBe(false);
    const set = loadConfig({ modelServerTools: "true" }, { TETHER_RUNNER_HOME: h, TETHER_GIT_CREDENTIAL_HOSTS: "github.com, git.example.com:8443" });
    expect(set.ok && set.value.gitCredentialHosts).toEqual(["github.com", "git.example.com:8443"]);
    expect(set.ok && set.value.modelServerTools).toBe(true);
    const bad = loadConfig({}, { TETHER_RUNNER_HOME: h, TETHER_GIT_CREDENTIAL_HOSTS: "https://github.com" });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error[0]).toContain("--git-credential-hosts");
  });

  it("rejects bad values and a broken file with clear problems", () => {
    const h = home();
    const r = loadConfig({ capacity: "lots", sandbox: "vm", edgeURL: "ftp://x" }, { TETHER_RUNNER_HOME: h });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.join("\n")).toMatch(/capacity[\s\S]*sandbox|sandbox[\s\S]*capacity/);
    writeFileSync(configPath(h), "{ nope");
    const broken = loadConfig({}, { TETHER_RUNNER_HOME: h });
    expect(!broken.ok && broken.error[0]).toContain("not valid JSON");
    writeFileSync(configPath(h), JSON.stringify({ capcity: 2 }));
    const typo = loadConfig({}, { TETHER_RUNNER_HOME: h });
    expect(!typo.ok && typo.error[0]).toContain("unknown keys: capcity");
  });

  it("gives every key a distinct variable and flag", () => {
    const specs = Object.values(CONFIG_KEYS);
    expect(new Set(specs.map((s) => s.env)).size).toBe(specs.length);
    expect(new Set(specs.map((s) => s.flag)).size).toBe(specs.length);
  });
});

describe("writeConfigFile", () => {
  it("merges, writes mode 0600 and never stores home", () => {
    const h = home();
    writeConfigFile(h, { edgeURL: "http://127.0.0.1:1", credential: "cred" });
    writeConfigFile(h, { name: "vps", home: "/elsewhere" });
    expect(statSync(configPath(h)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(configPath(h), "utf8"))).toEqual({ edgeURL: "http://127.0.0.1:1", credential: "cred", name: "vps" });
  });

  it("masks secrets when redacting", () => {
    const r = loadConfig({ credential: "c", anthropicAPIKey: "k" }, { TETHER_RUNNER_HOME: home() });
    expect(r.ok && redactConfig(r.value)).toMatchObject({ credential: "(set)", anthropicAPIKey: "(set)" });
  });
});
