import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventData } from "../../shared/events.ts";
import type { ProxyRegistration } from "../ports.ts";
import type { BudgetReport, Reached } from "./budget.ts";
import { ModelProxy, type TaskBudget } from "./model-proxy.ts";
import { costOf } from "./prices.ts";
import { callProxy as call, startStandInAPI as startUpstream } from "./testing/stand-in-api.ts";

const KEY = "sk-ant-api03-not-a-real-key-0123456789abcdef";

describe("ModelProxy", () => {
  let dir: string;
  let upstream: ReturnType<typeof startUpstream>;
  let upstreamURL: string;
  let proxy: ModelProxy;
  let usage: EventData<"usage">[];
  let refusals: string[];
  let now: number;
  let logs: string;

  async function register(budget: TaskBudget = {}, taskID = "task-1"): Promise<ProxyRegistration> {
    return proxy.register(taskID, budget, (u) => usage.push(u), (r) => refusals.push(r.reason));
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-proxy-"));
    upstream = startUpstream();
    upstreamURL = await upstream.listen();
    usage = [];
    refusals = [];
    now = 1_000_000;
    logs = "";
    const sink = new Writable({ write(chunk, _enc, cb) { logs += String(chunk); cb(); } });
    proxy = new ModelProxy({ upstreamURL, apiKey: KEY, socketDir: dir, now: () => now, logger: pino({ level: "trace" }, sink) });
    await proxy.start();
  });

  afterEach(async () => {
    await proxy.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("gives each task its own socket directory, reachable by the container's uid", async () => {
    const a = await register({}, "task-a");
    const b = await register({}, "task-b");
    expect(a.proxyDir).not.toBe(b.proxyDir);
    expect(a.socketPath.startsWith(`${a.proxyDir}/`)).toBe(true);
    expect((await stat(a.socketPath)).mode & 0o777).toBe(0o666);
    expect((await stat(a.proxyDir)).mode & 0o777).toBe(0o755);
    expect(a.token).not.toBe(b.token);
    await proxy.unregister("task-a");
    await expect(stat(a.proxyDir)).rejects.toThrow();
  });

  it("keeps the task directories when the runner closes, so a restarted runner's socket lands in the mounted one", async () => {
    const reg = await register();
    const before = await stat(reg.proxyDir);
    await proxy.close();
    expect((await stat(reg.proxyDir)).ino).toBe(before.ino);
    const restarted = new ModelProxy({ upstreamURL, apiKey: KEY, socketDir: dir });
    await restarted.start();
    try {
      const again = await restarted.register("task-1", {}, () => {}, () => {}, { token: reg.token });
      expect(again.proxyDir).toBe(reg.proxyDir);
      expect((await stat(again.proxyDir)).ino).toBe(before.ino);
      expect((await call(again)).status).toBe(200);
    } finally {
      await restarted.close();
    }
  });

  it("refuses a missing token, and another task's token on this task's socket; accepts x-api-key or a Bearer token", async () => {
    const reg = await register();
    const other = await register({}, "task-2");
    expect((await call(reg, { token: null })).status).toBe(401);
    const wrong = await call(reg, { token: other.token });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.body)).toEqual({ type: "error", error: { type: "authentication_error", message: "invalid or missing proxy token" } });
    expect((await call(reg)).status).toBe(200);
    expect((await call(reg, { bearer: true })).status).toBe(200);
    expect(upstream.seen).toHaveLength(2);
  });

  it("forwards with the runner's key, the client's version, and the beta client's query", async () => {
    const reg = await register();
    const reply = await call(reg, { path: "/v1/messages?beta=true" });
    expect(reply.status).toBe(200);
    const [req] = upstream.seen;
    expect(req?.path).toBe("/v1/messages?beta=true");
    expect(req?.headers["x-api-key"]).toBe(KEY);
    expect(req?.headers["anthropic-version"]).toBe("2023-06-01");
    expect(req?.headers.authorization).toBeUndefined();
    expect(JSON.stringify(req?.headers)).not.toContain(reg.token);
  });

  it("streams SSE through as it comes and reports the call's usage at its end", async () => {
    const reg = await register();
    let received = "";
    let firstSeen!: () => void;
    const first = new Promise<void>((resolve) => (firstSeen = resolve));
    const reply = call(reg, {
      body: { model: "claude-sonnet-4-5", stream: true, metadata: { user_id: "hold" }, messages: [] },
      onData: (text) => {
        received += text;
        if (received.includes("text_delta")) firstSeen();
      },
    });
    // The upstream holds the rest of the stream until released: the start already arrived.
    await first;
    expect(received).toContain("message_start");
    expect(received).not.toContain("message_stop");
    expect(usage).toEqual([]);
    upstream.release();
    const done = await reply;
    expect(done.headers["content-type"]).toBe("text/event-stream");
    expect(done.headers["request-id"]).toBe("req_1");
    expect(done.body).toContain("message_stop");
    const tokens = { inputTokens: 100, outputTokens: 50, cacheWriteTokens: 10, cacheReadTokens: 20 };
    expect(usage).toEqual([{ model: "claude-sonnet-4-5", ...tokens, costUSD: costOf("claude-sonnet-4-5", tokens) }]);
    expect(proxy.spent("task-1")).toEqual({ turns: 1, tokens: 180, costUSD: costOf("claude-sonnet-4-5", tokens) });
  });

  it("reports the usage of a JSON response and fills in the task's model when the request has none", async () => {
    const reg = await register({ model: "claude-haiku-4-5" });
    await call(reg, { body: { max_tokens: 1000, messages: [] } });
    expect(upstream.seen[0]?.body.model).toBe("claude-haiku-4-5");
    expect(usage).toEqual([{ model: "claude-haiku-4-5", inputTokens: 1000, outputTokens: 500, cacheWriteTokens: 0, cacheReadTokens: 0, costUSD: 0.001 + 0.0025 }]);
  });

  it("forwards count_tokens without counting a turn", async () => {
    const reg = await register({ maxTurns: 1 });
    const reply = await call(reg, { path: "/v1/messages/count_tokens", body: { model: "claude-sonnet-4-5", messages: [] } });
    expect(JSON.parse(reply.body)).toEqual({ input_tokens: 42 });
    expect(proxy.spent("task-1")?.turns).toBe(0);
    expect((await call(reg)).status).toBe(200);
  });

  it("refuses calls past the turn budget with an API-shaped 400, telling the runner once", async () => {
    const reg = await register({ maxTurns: 2 });
    expect((await call(reg)).status).toBe(200);
    expect((await call(reg)).status).toBe(200);
    const refused = await call(reg);
    expect(refused.status).toBe(400);
    expect(refused.headers["x-tether-budget-exceeded"]).toBe("true");
    const body = JSON.parse(refused.body) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toMatch(/turn budget spent: 2 of 2/);
    expect((await call(reg)).status).toBe(400);
    expect(upstream.seen).toHaveLength(2);
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatch(/turn budget/);
  });

  it("counts only calls the API accepted as turns", async () => {
    const reg = await register({ maxTurns: 1 });
    const failed = await call(reg, { body: { metadata: { user_id: "overloaded" }, messages: [] } });
    expect(failed.status).toBe(529);
    expect(JSON.parse(failed.body).error.type).toBe("overloaded_error");
    expect(proxy.spent("task-1")?.turns).toBe(0);
    expect((await call(reg)).status).toBe(200);
    expect((await call(reg)).status).toBe(400);
  });

  it("refuses calls once the token budget is used", async () => {
    const reg = await register({ maxTokens: 1500 });
    expect((await call(reg)).status).toBe(200);
    const refused = await call(reg);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/token budget spent: 1500 of 1500/);
  });

  it("refuses calls once the cost budget is used", async () => {
    const reg = await register({ maxCostUSD: 0.01 });
    // claude-sonnet-4-5: 1000 in + 500 out = $0.0105 per call.
    expect((await call(reg)).status).toBe(200);
    const refused = await call(reg);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/cost budget spent/);
    expect(refusals).toHaveLength(1);
  });

  it("refuses calls after the task's wall time, by the injected clock", async () => {
    const reg = await register({ timeoutMinutes: 5 });
    now += 4 * 60_000;
    expect((await call(reg)).status).toBe(200);
    now += 60_000;
    const refused = await call(reg);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatch(/time budget spent: 5\.0 of 5 minutes/);
  });

  it("a reached limit, then raised, lets the same call through; each limit's refusal names it, once per raise", async () => {
    const reached: Reached[] = [];
    const reports: BudgetReport[] = [];
    const reg = await proxy.register("task-x", { maxTurns: 1, timeoutMinutes: 5 }, () => {}, (r, report) => {
      reached.push(r);
      reports.push(report);
    });
    expect((await call(reg)).status).toBe(200);
    const refused = await call(reg);
    expect(refused.status).toBe(400);
    expect(refused.headers["x-tether-budget-limit"]).toBe("maxTurns");
    expect((await call(reg)).status).toBe(400);
    expect(reached).toEqual([{ limit: "maxTurns", reason: "turn budget spent: 1 of 1 model calls made" }]);
    expect(reports[0]).toMatchObject({ limits: { maxTurns: 1, timeoutMinutes: 5 }, spent: { maxTurns: 1 }, remaining: { maxTurns: 0, timeoutMinutes: 5 } });
    expect(proxy.raise("task-x", { maxTurns: 2 }, now)).toBe(true);
    expect((await call(reg)).status).toBe(200);
    now += 6 * 60_000;
    expect((await call(reg)).status).toBe(400);
    expect(reached.at(-1)).toMatchObject({ limit: "maxTurns" });
    // Five of the six minutes were a pause at the budget: the raise moves the start on by them.
    proxy.raise("task-x", { maxTurns: 10 }, now - 60_000);
    expect((await call(reg)).status).toBe(200);
    expect(proxy.report("task-x")).toMatchObject({ spent: { maxTurns: 3, timeoutMinutes: 1 }, remaining: { maxTurns: 7, timeoutMinutes: 4 } });
    now += 4 * 60_000;
    expect((await call(reg)).headers["x-tether-budget-limit"]).toBe("timeoutMinutes");
    proxy.raise("task-x", { timeoutMinutes: 6 }, now - 5 * 60_000);
    expect((await call(reg)).status).toBe(200);
    expect(proxy.raise("no-such-task", { maxTurns: 1 }, now)).toBe(false);
  });

  it("keeps a resumed task's token, start time and spending", async () => {
    const reg = await proxy.register("task-r", { maxTurns: 3 }, () => {}, (r) => refusals.push(r.reason), {
      token: "tether-proxy-kept",
      startedAt: now,
      spent: { turns: 3, tokens: 0, costUSD: 0 },
    });
    expect(reg.token).toBe("tether-proxy-kept");
    expect((await call(reg)).status).toBe(400);
  });

  it("refuses a fifth concurrent call of one task with a retryable 429", async () => {
    const reg = await register();
    const held = [1, 2, 3, 4].map(() => call(reg, { body: { model: "m", stream: true, metadata: { user_id: "hold" }, messages: [] } }));
    await new Promise<void>((resolve) => {
      const check = () => (upstream.seen.length === 4 ? resolve() : setTimeout(check, 10));
      check();
    });
    const fifth = await call(reg);
    expect(fifth.status).toBe(429);
    expect(JSON.parse(fifth.body).error.type).toBe("rate_limit_error");
    upstream.releaseAll();
    expect((await Promise.all(held)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect((await call(reg)).status).toBe(200);
  });

  it("answers bad requests with API-shaped errors and forwards nothing", async () => {
    const reg = await register();
    const get = await call(reg, { method: "GET" });
    expect(get.status).toBe(405);
    const other = await call(reg, { path: "/v1/models" });
    expect(other.status).toBe(404);
    expect(JSON.parse(other.body).error.type).toBe("not_found_error");
    const notJSON = await call(reg, { raw: "{nope" });
    expect(notJSON.status).toBe(400);
    expect(JSON.parse(notJSON.body).error.message).toBe("request body is not JSON");
    expect((await call(reg, { raw: "[1,2]" })).status).toBe(400);
    const huge = await call(reg, { raw: Buffer.alloc(33 * 1024 * 1024, 0x20) });
    expect(huge.status).toBe(413);
    expect(JSON.parse(huge.body).error.type).toBe("request_too_large");
    expect(upstream.seen).toHaveLength(0);
    expect(proxy.spent("task-1")?.turns).toBe(0);
  });

  it("never lets the key out: not in responses, split chunks, errors or logs", async () => {
    const reg = await register();
    const echoed = await call(reg, { body: { metadata: { user_id: "echo" }, messages: [] } });
    expect(upstream.seen[0]?.headers["x-api-key"]).toBe(KEY);
    expect(echoed.body).not.toContain(KEY);
    expect(echoed.body).toContain("*".repeat(KEY.length));
    expect(JSON.stringify(echoed.headers)).not.toContain(KEY);
    const split = await call(reg, { body: { metadata: { user_id: "split" }, stream: true, messages: [] } });
    expect(split.body).not.toContain(KEY);
    expect(split.body).toContain(`"leak":"${"*".repeat(KEY.length)}"`);
    await upstream.close();
    const down = await call(reg);
    expect(down.status).toBe(502);
    expect(JSON.parse(down.body).error.message).toMatch(/could not be reached \(ECONN(REFUSED|RESET)\)/);
    expect(down.body).not.toContain(KEY);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(KEY);
  });
});
