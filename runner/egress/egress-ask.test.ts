import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventData } from "../../shared/events.ts";
import type { EgressPhase } from "../ports.ts";
import { EgressQuestions } from "../task/egress-questions.ts";
import { EgressProxy, type Resolver } from "./egress-proxy.ts";
import { parseHostRule } from "./host-rule.ts";

const NAMES: Record<string, string[]> = { "registry.test": ["127.0.0.1"], "private.test": ["10.1.2.3"], "other.test": ["127.0.0.1"] };
const resolver: Resolver = async (host) => {
  const addresses = NAMES[host];
  if (!addresses) throw new Error(`${host}: no such name`);
  return addresses;
};

describe("EgressProxy in ask mode", () => {
  let dir: string;
  let target: http.Server;
  let port: number;
  let proxy: EgressProxy;
  let asked: { host: string; port: number; answer: (approved: boolean) => void }[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-egress-ask-"));
    target = http.createServer((req, res) => res.end(`hello from ${req.url}`));
    await new Promise<void>((resolve) => target.listen(0, "127.0.0.1", resolve));
    port = (target.address() as net.AddressInfo).port;
    asked = [];
  });
  afterEach(async () => {
    await proxy.close();
    await new Promise((resolve) => target.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  async function start(phase: EgressPhase, opts: { agentRules?: string[]; allowed?: string[] } = {}): Promise<string> {
    proxy = new EgressProxy({ resolver, allowLoopback: true });
    const socketPath = join(dir, "t1", "egress.sock");
    const rules = (list: string[] = []) => list.map((r) => (parseHostRule(r) as { ok: true; value: never }).value);
    await proxy.register("t1", {
      socketPath,
      phase,
      setupRules: rules([`registry.test:${port}`]),
      agentRules: rules(opts.agentRules),
      allowed: rules(opts.allowed),
      onEvent: (_e: EventData<"egress">) => {},
      ask: (host, p) => new Promise<boolean>((answer) => asked.push({ host, port: p, answer })),
    });
    return socketPath;
  }

  function get(socketPath: string, url: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath, method: "GET", path: url, headers: { host: new URL(url).host } }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.once("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.once("error", reject);
      req.end();
    });
  }

  async function question(): Promise<(typeof asked)[number]> {
    for (let i = 0; i < 500 && asked.length === 0; i++) await new Promise((r) => setImmediate(r));
    const q = asked.shift();
    if (!q) throw new Error("the proxy asked nothing");
    return q;
  }

  it("holds an agent-phase attempt until the owner answers: yes goes through, no is a 403", async () => {
    const socketPath = await start("agent", { agentRules: [`registry.test:${port}`] });
    const first = get(socketPath, `http://registry.test:${port}/a`);
    const q = await question();
    expect(q).toMatchObject({ host: "registry.test", port });
    q.answer(true);
    expect(await first).toEqual({ status: 200, body: "hello from /a" });
    const second = get(socketPath, `http://other.test:${port}/b`);
    (await question()).answer(false);
    const refused = await second;
    expect(refused.status).toBe(403);
    expect(refused.body).toContain(`the owner declined other.test:${port}`);
  });

  it("asks about nothing the user allowed, nothing in the setup phase, and refuses a private address without asking", async () => {
    const socketPath = await start("agent", { allowed: [`other.test:${port}`] });
    expect((await get(socketPath, `http://other.test:${port}/c`)).status).toBe(200);
    expect((await get(socketPath, `http://private.test:${port}/d`)).status).toBe(403);
    expect(asked).toEqual([]);
    await proxy.close();
    const setup = await start("setup");
    expect((await get(setup, `http://registry.test:${port}/e`)).status).toBe(200);
    expect((await get(setup, `http://other.test:${port}/f`)).status).toBe(403);
    expect(asked).toEqual([]);
  });
});

describe("EgressQuestions", () => {
  it("asks with an approval.requested event, settles only its own ids, and refuses what a task held when it ends", async () => {
    const questions = new EgressQuestions();
    const emitted: unknown[] = [];
    const a = questions.ask("t1", "example.test", 443, (bodies) => emitted.push(...bodies));
    const b = questions.ask("t1", "other.test", 80, (bodies) => emitted.push(...bodies));
    expect(emitted).toEqual([
      { type: "approval.requested", data: { approvalID: expect.any(String), kind: "egress", subject: "example.test:443" } },
      { type: "approval.requested", data: { approvalID: expect.any(String), kind: "egress", subject: "other.test:80" } },
    ]);
    const idOf = (i: number) => (emitted[i] as { data: { approvalID: string } }).data.approvalID;
    expect(questions.answer("not-ours", true)).toBe(false);
    expect(questions.answer(idOf(0), true)).toBe(true);
    expect(await a).toBe(true);
    questions.drop("t1");
    expect(await b).toBe(false);
    expect(questions.answer(idOf(1), true)).toBe(false);
  });
});
