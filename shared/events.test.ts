import { describe, expect, it } from "vitest";
import { AgentEventBody } from "./events.ts";

const usage = { model: "claude-sonnet-5-5", inputTokens: 1, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 };

describe("agent events of today's model", () => {
  it("accepts the agent's reasoning, a compaction and a usage whose cost is unknown", () => {
    expect(AgentEventBody.safeParse({ type: "agent.thinking", data: { turn: 0, text: "Reading the test first." } }).success).toBe(true);
    expect(AgentEventBody.safeParse({ type: "context.compacted", data: { turn: 2, tokensBefore: 900_000, tokensAfter: 12_000 } }).success).toBe(true);
    expect(AgentEventBody.safeParse({ type: "usage", data: { ...usage, costUSD: null } }).success).toBe(true);
    expect(AgentEventBody.safeParse({ type: "usage", data: { ...usage, costUSD: 0.01 } }).success).toBe(true);
  });

  it("rejects them malformed", () => {
    expect(AgentEventBody.safeParse({ type: "agent.thinking", data: { turn: -1, text: "x" } }).success).toBe(false);
    expect(AgentEventBody.safeParse({ type: "agent.thinking", data: { turn: 0 } }).success).toBe(false);
    expect(AgentEventBody.safeParse({ type: "context.compacted", data: { turn: 0, tokensBefore: 10 } }).success).toBe(false);
    expect(AgentEventBody.safeParse({ type: "usage", data: { ...usage, costUSD: -1 } }).success).toBe(false);
    expect(AgentEventBody.safeParse({ type: "usage", data: usage }).success).toBe(false);
  });
});
