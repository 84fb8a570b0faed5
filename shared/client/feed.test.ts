import { describe, expect, it } from "vitest";
import { EMPTY_FEED, MAX_TOOL_OUTPUT_CHARS, applyEvents } from "./feed.ts";
import type { KnownEvent } from "./task-stream.ts";

let seq = 0;
function e<T extends KnownEvent["type"]>(type: T, data: Extract<KnownEvent, { type: T }>["data"]): KnownEvent {
  seq += 1;
  return { seq, ts: "2026-11-28T01:00:00.000Z", type, data } as KnownEvent;
}

describe("applyEvents", () => {
  it("joins streamed text into one message and settles it with the whole text", () => {
    seq = 0;
    let feed = applyEvents(EMPTY_FEED, [e("agent.text.delta", { turn: 0, text: "Hel" }), e("agent.text.delta", { turn: 0, text: "lo" })]);
    expect(feed.items).toHaveLength(1);
    expect(feed.items[0]).toMatchObject({ kind: "assistant", text: "Hello", streaming: true });
    feed = applyEvents(feed, [e("agent.text", { turn: 0, text: "Hello!" })]);
    expect(feed.items).toHaveLength(1);
    expect(feed.items[0]).toMatchObject({ text: "Hello!", streaming: false });
  });

  it("keeps the agent's reasoning and its compactions as their own items beside the tool calls", () => {
    seq = 0;
    const feed = applyEvents(EMPTY_FEED, [
      e("agent.thinking", { turn: 0, text: "The test fails because add subtracts." }),
      e("tool.start", { callID: "c1", name: "bash", input: { command: "npm test" } }),
      e("context.compacted", { turn: 0, tokensBefore: 180_000, tokensAfter: 9_000 }),
      e("agent.thinking", { turn: 0, text: "Fixing it." }),
    ]);
    expect(feed.items.map((i) => i.kind)).toEqual(["thinking", "tool", "compacted", "thinking"]);
    expect(feed.items[0]).toMatchObject({ kind: "thinking", turn: 0, text: "The test fails because add subtracts." });
    expect(feed.items[2]).toMatchObject({ tokensBefore: 180_000, tokensAfter: 9_000 });
  });

  it("makes the running cost unknown once a call's cost is unknown, and still counts its tokens", () => {
    seq = 0;
    const usage = { model: "m", inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const feed = applyEvents(EMPTY_FEED, [e("usage", { ...usage, costUSD: 0.25 }), e("usage", { ...usage, model: "unpriced", costUSD: null }), e("usage", { ...usage, costUSD: 0.25 })]);
    expect(feed.usage).toMatchObject({ inputTokens: 30, outputTokens: 15, costUSD: null, modelCalls: 3 });
  });

  it("folds a tool call's output and end into the call", () => {
    seq = 0;
    const feed = applyEvents(EMPTY_FEED, [
      e("tool.start", { callID: "c1", name: "bash", input: { command: "npm test" } }),
      e("tool.output", { callID: "c1", stream: "stdout", text: "ok 1\n" }),
      e("tool.output", { callID: "c1", stream: "stdout", text: "ok 2\n" }),
      e("tool.output", { callID: "c1", stream: "stderr", text: "warn\n" }),
      e("tool.end", { callID: "c1", ok: false, summary: "exit 1", exitCode: 1 }),
    ]);
    expect(feed.items).toHaveLength(1);
    expect(feed.items[0]).toMatchObject({
      kind: "tool",
      input: { command: "npm test" },
      output: [
        { stream: "stdout", text: "ok 1\nok 2\n" },
        { stream: "stderr", text: "warn\n" },
      ],
      state: "failed",
      exitCode: 1,
    });
  });

  it("starts a new message after a tool call, sums usage and tracks status and diff", () => {
    seq = 0;
    const usage = { model: "m", inputTokens: 10, outputTokens: 5, cacheReadTokens: 1, cacheWriteTokens: 0, costUSD: 0.25 };
    const feed = applyEvents(EMPTY_FEED, [
      e("status", { status: "running" }),
      e("agent.text.delta", { turn: 0, text: "Looking" }),
      e("tool.start", { callID: "c1", name: "read", input: {} }),
      e("agent.text.delta", { turn: 0, text: "Found it" }),
      e("usage", usage),
      e("usage", usage),
      e("file.changed", { path: "a.ts", change: "modified" }),
      e("diff", { files: 1, insertions: 2, deletions: 1, artifact: "diff.patch", changedFiles: [{ path: "a.ts", insertions: 2, deletions: 1 }] }),
      e("status", { status: "succeeded" }),
    ]);
    expect(feed.items.map((i) => i.kind)).toEqual(["status", "assistant", "tool", "assistant", "file", "diff", "status"]);
    expect(feed.items[1]).toMatchObject({ streaming: false });
    expect(feed.usage).toMatchObject({ inputTokens: 20, costUSD: 0.5, modelCalls: 2 });
    expect(feed.status).toBe("succeeded");
    expect(feed.diff?.artifact).toBe("diff.patch");
    expect(feed.lastSeq).toBe(9);
  });

  it("ignores events it already holds and keeps unchanged items by identity", () => {
    seq = 0;
    const first = applyEvents(EMPTY_FEED, [e("user.message", { text: "go", by: "alice" }), e("log", { level: "info", message: "cloning" })]);
    const again = applyEvents(first, [{ ...first.items[0]!, seq: 1, ts: "t", type: "user.message", data: { text: "go", by: "alice" } } as KnownEvent]);
    expect(again.items).toHaveLength(2);
    const next = applyEvents(first, [e("log", { level: "warn", message: "slow" })]);
    expect(next.items[0]).toBe(first.items[0]);
  });

  it("bounds a tool's output, counting what it cut", () => {
    seq = 0;
    const big = "x".repeat(MAX_TOOL_OUTPUT_CHARS);
    const feed = applyEvents(EMPTY_FEED, [
      e("tool.start", { callID: "c", name: "bash", input: {} }),
      e("tool.output", { callID: "c", stream: "stdout", text: big }),
      e("tool.output", { callID: "c", stream: "stdout", text: "tail" }),
    ]);
    const tool = feed.items[0]!;
    expect(tool.kind === "tool" && tool.droppedChars).toBe(4);
    expect(tool.kind === "tool" && tool.output[0]!.text.endsWith("tail")).toBe(true);
  });

  it("shows setup steps with their output, exit code and duration, then the end or a cache hit", () => {
    seq = 0;
    const feed = applyEvents(EMPTY_FEED, [
      e("setup.step", { step: 1, command: "npm ci", source: "environment", state: "started" }),
      e("setup.output", { step: 1, stream: "stdout", text: "added 1 package\n" }),
      e("setup.step", { step: 1, command: "npm ci", source: "environment", state: "ended", exitCode: 0, durationMs: 4200 }),
      e("setup.done", { ok: true, cache: "miss", durationMs: 4300 }),
      e("setup.done", { ok: true, cache: "hit", durationMs: 300, savedMs: 4300 }),
    ]);
    expect(feed.items.map((i) => i.kind)).toEqual(["setup", "setup-done", "setup-done"]);
    expect(feed.items[0]).toMatchObject({ step: 1, source: "environment", state: "ok", exitCode: 0, durationMs: 4200, output: [{ stream: "stdout", text: "added 1 package\n" }] });
    expect(feed.items[2]).toMatchObject({ done: { cache: "hit", savedMs: 4300 } });
  });

  it("groups egress attempts, keeps the totals, and settles a denial the user allows", () => {
    seq = 0;
    const attempt = (allowed: boolean, bytes: number, port = 443) => e("egress", { phase: "agent", host: "registry.test", port, allowed, bytes });
    let feed = applyEvents(EMPTY_FEED, [attempt(false, 0), attempt(false, 0), attempt(false, 0, 8443)]);
    expect(feed.items).toMatchObject([
      { kind: "egress", allowed: false, count: 2, rule: "registry.test", settled: false },
      { kind: "egress", allowed: false, count: 1, rule: "registry.test:8443", settled: false },
    ]);
    feed = applyEvents(feed, [e("user.egress", { host: "registry.test", by: "u1" }), attempt(true, 500), attempt(true, 700)]);
    expect(feed.items).toMatchObject([
      { kind: "egress", rule: "registry.test", settled: true },
      { kind: "egress", rule: "registry.test:8443", settled: false },
      { kind: "egress-allow", host: "registry.test", by: "u1" },
      { kind: "egress", allowed: true, count: 2, bytes: 1200 },
    ]);
    expect(feed.egress).toEqual({ allowed: 2, denied: 3, bytes: 1200 });
  });

  it("holds a reached budget until the raise, and shows both in the feed", () => {
    seq = 0;
    const reached = { limit: "maxTurns" as const, reason: "turn budget spent: 2 of 2 model calls made", limits: { maxTurns: 2 }, spent: { maxTurns: 2 }, remaining: { maxTurns: 0 } };
    let feed = applyEvents(EMPTY_FEED, [e("budget.reached", reached), e("status", { status: "waiting", reason: "raise the limit to go on" })]);
    expect(feed.budget).toEqual({ seq: 1, reached });
    feed = applyEvents(feed, [e("budget.raised", { limits: { maxTurns: 4 }, previous: { maxTurns: 2 }, by: "alice" })]);
    expect(feed.budget).toBeNull();
    expect(feed.items.map((i) => i.kind)).toEqual(["budget-reached", "status", "budget-raised"]);
    feed = applyEvents(feed, [e("budget.reached", reached), e("status", { status: "cancelled" })]);
    expect(feed.budget).toBeNull();
  });
});
