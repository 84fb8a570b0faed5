/**
 * Attacks on a task's hard budget by the worker that spends it: hanging up mid-stream,
 * calling in parallel, asking for a huge max_tokens, stepping past the limit one call at a
 * time. Each goes through a real proxy socket to the stand-in API, whose input counts (130 a
 * streamed call) stay below the request's size, as a real API's do for text.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EventData } from "../../shared/events.ts";
import type { ProxyRegistration } from "../ports.ts";
import { ModelProxy } from "./model-proxy.ts";
import type { TaskBudget } from "./budget.ts";
import { costOf } from "./prices.ts";
import { callProxy, type Reply, startStandInAPI, type StandInAPI } from "./testing/stand-in-api.ts";

const KEY = "sk-ant-api03-not-a-real-key-0123456789abcdef";
const MODEL = "claude-sonnet-4-5";

/** A request of about 170 bytes, more than the 130 input tokens the stand-in reports. */
function body(extra: Record<string, unknown> = {}) {
  return { model: MODEL, max_tokens: 1000, stream: true, messages: [{ role: "user", content: "x".repeat(100) }], ...extra };
}
const bytesOf = (b: object) => Buffer.byteLength(JSON.stringify(b));

function isBudgetRefusal(reply: Reply): boolean {
  return reply.status === 400 && reply.headers["x-tether-budget-exceeded"] === "true" && JSON.parse(reply.body).error.type === "invalid_request_error";
}

describe("model proxy budget", () => {
  let dir: string;
  let upstream: StandInAPI;
  let proxy: ModelProxy;
  let usage: EventData<"usage">[];

  async function register(budget: TaskBudget): Promise<ProxyRegistration> {
    return proxy.register("task-1", budget, (u) => usage.push(u), () => {});
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-budget-"));
    upstream = startStandInAPI();
    proxy = new ModelProxy({ upstreamURL: await upstream.listen(), apiKey: KEY, socketDir: dir });
    await proxy.start();
    usage = [];
  });

  afterEach(async () => {
    await proxy.close();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("attack: a worker that hangs up mid-stream is charged its input and the most output it could have had", async () => {
    const reg = await register({ maxTokens: 100_000 });
    const hungUp = upstream.nextHangUp();
    await callProxy(reg, {
      body: body({ metadata: { user_id: "hold" } }),
      onData: (text, req) => {
        if (text.includes("text_delta")) req.destroy();
      },
    });
    await hungUp;
    const tokens = { inputTokens: 100, cacheWriteTokens: 10, cacheReadTokens: 20, outputTokens: 1000 };
    expect(usage).toEqual([{ model: MODEL, ...tokens, costUSD: costOf(MODEL, tokens) }]);
    expect(proxy.spent("task-1")).toEqual({ turns: 1, tokens: 1130, costUSD: costOf(MODEL, tokens) });
  });

  it("attack: a stream the upstream breaks off is charged too", async () => {
    const reg = await register({ maxTokens: 100_000 });
    await callProxy(reg, { body: body({ metadata: { user_id: "cut" } }) });
    expect(proxy.spent("task-1")?.tokens).toBe(1130);
    expect(proxy.spent("task-1")?.turns).toBe(1);
  });

  it("attack: a call broken off before any usage arrives is charged its worst case", async () => {
    const reg = await register({ maxTokens: 100_000 });
    const sent = body({ stream: false, metadata: { user_id: "stall" } });
    const arrived = new Promise<void>((resolve) => upstream.onRequest(() => resolve()));
    const hungUp = upstream.nextHangUp();
    const abort = new AbortController();
    const reply = callProxy(reg, { body: sent, signal: abort.signal });
    await arrived;
    abort.abort();
    expect((await reply).status).toBe(0);
    await hungUp;
    const tokens = { inputTokens: 0, outputTokens: 1000, cacheWriteTokens: bytesOf(sent), cacheReadTokens: 0 };
    expect(usage).toEqual([{ model: MODEL, ...tokens, costUSD: costOf(MODEL, tokens) }]);
  });

  it("attack: ten parallel calls under a turn budget of one get one call to the API", async () => {
    const reg = await register({ maxTurns: 1 });
    const replies = await tenInParallel(reg);
    expect(upstream.seen).toHaveLength(1);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
    expect(proxy.spent("task-1")?.turns).toBe(1);
  });

  it("attack: ten parallel calls under a token budget of one spend no more than the budget", async () => {
    const limit = 300;
    const reg = await register({ maxTokens: limit });
    const replies = await tenInParallel(reg);
    expect(upstream.seen).toHaveLength(1);
    expect(replies.filter(isBudgetRefusal).length).toBeGreaterThan(0);
    expect(proxy.spent("task-1")?.tokens).toBeLessThanOrEqual(limit);
  });

  it("attack: a huge max_tokens is clamped to what the token budget leaves", async () => {
    const reg = await register({ maxTokens: 1000 });
    const sent = body({ max_tokens: 120_000 });
    expect((await callProxy(reg, { body: sent })).status).toBe(200);
    expect(upstream.seen[0]?.body.max_tokens).toBe(1000 - bytesOf(sent));
  });

  it("attack: a huge max_tokens is clamped to what the dollar budget leaves, thinking budget below it", async () => {
    const reg = await register({ maxCostUSD: 0.01 });
    const sent = body({ max_tokens: 120_000, thinking: { type: "enabled", budget_tokens: 60_000 } });
    expect((await callProxy(reg, { body: sent })).status).toBe(200);
    // claude-sonnet-4-5: input held at the cache-write price ($3.75/M), output $15/M.
    const left = Math.floor(((0.01 - (bytesOf(sent) * 3.75) / 1_000_000) * 1_000_000) / 15);
    expect(upstream.seen[0]?.body.max_tokens).toBe(left);
    expect(upstream.seen[0]?.body.thinking).toEqual({ type: "enabled", budget_tokens: left - 1 });
  });

  it("attack: a call whose input alone would pass the budget is refused, in the budget's shape", async () => {
    const sent = body();
    const reg = await register({ maxTokens: bytesOf(sent) });
    const reply = await callProxy(reg, { body: sent });
    expect(isBudgetRefusal(reply)).toBe(true);
    expect(JSON.parse(reply.body).error.message).toMatch(/budget/);
    expect(upstream.seen).toHaveLength(0);
  });

  it("attack: a call to a model with no known price is refused under a dollar budget, and passes with its cost unknown without one", async () => {
    const reg = await register({ maxCostUSD: 1 });
    const refused = await callProxy(reg, { body: body({ model: "claude-mythos-preview" }) });
    expect(isBudgetRefusal(refused)).toBe(true);
    expect(JSON.parse(refused.body).error.message).toMatch(/no known price/);
    expect(upstream.seen).toHaveLength(0);
    await proxy.unregister("task-1");
    const open = await register({ maxTokens: 1_000_000 });
    expect((await callProxy(open, { body: body({ model: "claude-mythos-preview" }) })).status).toBe(200);
    expect(usage.at(-1)).toMatchObject({ model: "claude-mythos-preview", costUSD: null });
    expect(usage.at(-1)!.inputTokens).toBeGreaterThan(0);
  });

  it("attack: calls one after another never take the spending past the limit", async () => {
    const limit = 2000;
    const reg = await register({ maxTokens: limit });
    let forwarded = 0;
    for (let i = 0; i < 50; i++) {
      const reply = await callProxy(reg, { body: body() });
      if (isBudgetRefusal(reply)) break;
      expect(reply.status).toBe(200);
      forwarded += 1;
    }
    expect(forwarded).toBeGreaterThan(1);
    expect(isBudgetRefusal(await callProxy(reg, { body: body() }))).toBe(true);
    expect(proxy.spent("task-1")?.tokens).toBeLessThanOrEqual(limit);
  });

  it("gives back the turn and holds nothing of a call the API refused", async () => {
    const reg = await register({ maxTurns: 1, maxTokens: 10_000 });
    expect((await callProxy(reg, { body: body({ metadata: { user_id: "overloaded" } }) })).status).toBe(529);
    expect(proxy.spent("task-1")).toEqual({ turns: 0, tokens: 0, costUSD: 0 });
    expect((await callProxy(reg, { body: body() })).status).toBe(200);
  });

  /**
   * Ten calls at once, each held by the upstream when it gets there; once every call is either
   * answered by the proxy or held upstream, the held ones are let go.
   */
  async function tenInParallel(reg: ProxyRegistration): Promise<Reply[]> {
    let answered = 0;
    const check = () => {
      if (answered + upstream.seen.length >= 10) upstream.releaseAll();
    };
    upstream.onRequest(check);
    const calls = Array.from({ length: 10 }, () =>
      callProxy(reg, { body: body({ metadata: { user_id: "hold" } }) }).then((r) => {
        answered += 1;
        check();
        return r;
      }),
    );
    return Promise.all(calls);
  }
});
