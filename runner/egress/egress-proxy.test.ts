import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventData } from "../../shared/events.ts";
import type { EgressPhase } from "../ports.ts";
import { EgressProxy, type Resolver } from "./egress-proxy.ts";
import { type HostRule, parseHostRule } from "./host-rule.ts";

/** Names the tests use, each resolving to one address; nothing here leaves the machine. */
const NAMES: Record<string, string[]> = {
  "registry.test": ["127.0.0.1"],
  "private.test": ["10.1.2.3"],
  "linklocal.test": ["169.254.169.254"],
  "mixed.test": ["127.0.0.1", "192.168.1.1"],
  "public.test": ["93.184.216.34"],
};
const resolver: Resolver = async (host) => {
  const addresses = NAMES[host];
  if (!addresses) throw new Error(`${host}: no such name`);
  return addresses;
};

function rule(text: string): HostRule {
  const parsed = parseHostRule(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

describe("EgressProxy", () => {
  let dir: string;
  let target: http.Server;
  let targetPort: number;
  let proxies: EgressProxy[];
  let events: EventData<"egress">[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-egress-"));
    proxies = [];
    events = [];
    target = http.createServer((req, res) => res.end(`hello from ${req.url}`));
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    targetPort = (target.address() as net.AddressInfo).port;
  });

  afterEach(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await new Promise((resolve) => target.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  /** A proxy for task "t1" in `phase`; `allowLoopback` stands in for a registry on 127.0.0.1. */
  async function start(
    phase: EgressPhase,
    setupRules: string[],
    opts: { allowLoopback?: boolean; agentRules?: string[] } = {},
  ): Promise<{ proxy: EgressProxy; socketPath: string }> {
    const proxy = new EgressProxy({ resolver, allowLoopback: opts.allowLoopback });
    proxies.push(proxy);
    const socketPath = join(dir, "t1", "egress.sock");
    const agentRules = (opts.agentRules ?? []).map(rule);
    await proxy.register("t1", { socketPath, phase, setupRules: setupRules.map(rule), agentRules, allowed: [], onEvent: (e) => events.push(e) });
    return { proxy, socketPath };
  }

  /** A CONNECT through the proxy; resolves with the status, and the tunnelled answer when it opened. */
  function connect(socketPath: string, authority: string): Promise<{ status: number; body?: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath, method: "CONNECT", path: authority });
      req.once("connect", (res, socket) => {
        if (res.statusCode !== 200) {
          socket.destroy();
          resolve({ status: res.statusCode ?? 0 });
          return;
        }
        let body = "";
        socket.on("data", (chunk: Buffer) => (body += chunk.toString()));
        socket.once("end", () => resolve({ status: 200, body }));
        socket.write(`GET /tunnelled HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
      });
      req.once("error", reject);
      req.end();
    });
  }

  /** A plain-HTTP proxy request for `url`. */
  function get(socketPath: string, url: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath, method: "GET", path: url, headers: { host: URL.canParse(url) ? new URL(url).host : "x" } }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.once("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.once("error", reject);
      req.end();
    });
  }

  /** The egress event for an attempt; the proxy reports each attempt once it ends. */
  async function eventFor(host: string): Promise<EventData<"egress">> {
    for (let i = 0; i < 200; i += 1) {
      const found = events.find((e) => e.host === host);
      if (found) return found;
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error(`no egress event for ${host}: ${JSON.stringify(events)}`);
  }

  for (const phase of ["setup", "agent"] as const) {
    describe(`refuses, whatever the allowlist says, in the ${phase} phase`, () => {
      const cases: [string, string][] = [
        ["the loopback literal 127.0.0.1", "127.0.0.1"],
        ["a private literal", "10.0.0.8"],
        ["a link-local literal (the metadata address)", "169.254.169.254"],
        ["a public IP literal", "93.184.216.34"],
        ["a name that resolves to loopback", "registry.test"],
        ["a name that resolves to a private address", "private.test"],
        ["a name that resolves to a link-local address", "linklocal.test"],
        ["a name with one private address among its answers", "mixed.test"],
      ];
      for (const [what, host] of cases) {
        it(what, async () => {
          const { proxy, socketPath } = await start(phase, [`${host}:${targetPort}`]);
          if (phase === "agent") expect(proxy.allow("t1", `${host}:${targetPort}`).ok).toBe(true);
          expect((await connect(socketPath, `${host}:${targetPort}`)).status).toBe(403);
          expect((await get(socketPath, `http://${host}:${targetPort}/x`)).status).toBe(403);
          const event = await eventFor(host);
          expect(event).toMatchObject({ phase, host, port: targetPort, allowed: false, bytes: 0 });
          expect(proxy.totals("t1")).toEqual({ allowed: 0, denied: 2, bytes: 0 });
        });
      }
    });
  }

  it("allows a listed host in the setup phase, over CONNECT and plain HTTP, and reports the bytes", async () => {
    const { proxy, socketPath } = await start("setup", [`registry.test:${targetPort}`], { allowLoopback: true });
    const tunnelled = await connect(socketPath, `registry.test:${targetPort}`);
    expect(tunnelled.status).toBe(200);
    expect(tunnelled.body).toContain("hello from /tunnelled");
    const plain = await get(socketPath, `http://registry.test:${targetPort}/pkg`);
    expect(plain).toEqual({ status: 200, body: "hello from /pkg" });
    await eventFor("registry.test");
    for (let i = 0; i < 200 && events.length < 2; i += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(events).toHaveLength(2);
    expect(events.every((e) => e.allowed && e.phase === "setup" && e.port === targetPort && e.bytes > 0)).toBe(true);
    expect(proxy.totals("t1")).toMatchObject({ allowed: 2, denied: 0 });
  });

  it("refuses a listed host on a port its rule does not name", async () => {
    const { socketPath } = await start("setup", ["registry.test"], { allowLoopback: true });
    expect((await connect(socketPath, `registry.test:${targetPort}`)).status).toBe(403);
    expect((await eventFor("registry.test")).reason).toContain("not allowed in the setup phase");
  });

  it("still refuses private and link-local addresses when loopback is let through for tests", async () => {
    const { socketPath } = await start("setup", [`private.test:${targetPort}`, `linklocal.test:${targetPort}`], { allowLoopback: true });
    expect((await connect(socketPath, `private.test:${targetPort}`)).status).toBe(403);
    expect((await connect(socketPath, `linklocal.test:${targetPort}`)).status).toBe(403);
  });

  it("denies by default in the agent phase: the setup phase's rules no longer apply", async () => {
    const { proxy, socketPath } = await start("setup", [`registry.test:${targetPort}`], { allowLoopback: true });
    proxy.setPhase("t1", "agent");
    expect((await connect(socketPath, `registry.test:${targetPort}`)).status).toBe(403);
    expect(await eventFor("registry.test")).toMatchObject({ phase: "agent", allowed: false });
    proxy.setPhase("t1", "setup");
    expect((await get(socketPath, `http://registry.test:${targetPort}/again`)).status).toBe(403);
  });

  it("allows an environment's agent hosts in the agent phase only", async () => {
    const { proxy, socketPath } = await start("setup", [], { allowLoopback: true, agentRules: [`registry.test:${targetPort}`] });
    expect((await get(socketPath, `http://registry.test:${targetPort}/in-setup`)).status).toBe(403);
    proxy.setPhase("t1", "agent");
    expect(await get(socketPath, `http://registry.test:${targetPort}/in-agent`)).toEqual({ status: 200, body: "hello from /in-agent" });
    expect(events.map((e) => [e.phase, e.allowed])).toEqual([
      ["setup", false],
      ["agent", true],
    ]);
  });

  it("allows a host added mid-task for the rest of the task", async () => {
    const { proxy, socketPath } = await start("agent", [], { allowLoopback: true });
    expect((await get(socketPath, `http://registry.test:${targetPort}/before`)).status).toBe(403);
    expect(proxy.allow("t1", `registry.test:${targetPort}`).ok).toBe(true);
    expect(await get(socketPath, `http://registry.test:${targetPort}/after`)).toEqual({ status: 200, body: "hello from /after" });
    expect(events.map((e) => e.allowed)).toEqual([false, true]);
    expect(proxy.allow("t1", "not a host!").ok).toBe(false);
  });

  it("answers 400 to a request that is not a proxy request, and reports nothing", async () => {
    const { socketPath } = await start("setup", []);
    expect((await get(socketPath, "/relative")).status).toBe(400);
    expect((await connect(socketPath, "no-port")).status).toBe(400);
    expect(events).toEqual([]);
  });

  it("reports a name that does not resolve as denied", async () => {
    const { socketPath } = await start("setup", ["nowhere.test"]);
    expect((await connect(socketPath, "nowhere.test:443")).status).toBe(403);
    expect((await eventFor("nowhere.test")).reason).toContain("does not resolve");
  });
});
