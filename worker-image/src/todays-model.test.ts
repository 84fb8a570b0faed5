import Anthropic from "@anthropic-ai/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEventBody } from "../../shared/events.ts";
import { startFakeModel, type FakeModel, type RecordedRequest, type Script } from "../../test/fake-model/index.ts";
import { BudgetGate } from "./budget-gate.ts";
import { SUMMARY_HEADING, SUMMARY_REQUEST, type ContextState } from "./compaction.ts";
import { runTurn, type LoopContext } from "./loop.ts";
import { contextWindowOf, requestOf } from "./model-client.ts";
import { makeTestWorkspace, type TestWorkspace } from "./tools/test-context.ts";

let ws: TestWorkspace;
let model: FakeModel | undefined;
let events: AgentEventBody[];
beforeEach(async () => {
  ws = await makeTestWorkspace();
  events = [];
});
afterEach(async () => {
  await model?.close();
  await ws.cleanup();
});

function contextOf(client: Anthropic, context: ContextState, effort?: "low" | "medium" | "high"): LoopContext {
  return {
    client,
    model: "claude-sonnet-5-5",
    maxTokens: 1000,
    system: "sys",
    ...(effort ? { effort } : {}),
    prompt: "fix it",
    context,
    root: ws.root,
    turn: 0,
    budget: new BudgetGate(),
    commandTimeoutMs: 10_000,
    emit: (e) => events.push(e),
    signal: new AbortController().signal,
    save: async () => undefined,
  };
}

const lastUserText = (request: RecordedRequest) => JSON.stringify((request.body.messages as unknown[]).at(-1));
const firstText = (request: RecordedRequest) => JSON.stringify((request.body.messages as unknown[])[0]);

/** Reasoning up front, a note between tool calls, two tool calls, an answer; then a follow-up. */
const REASONING: Script = (request) => {
  const assistants = (request.body.messages as { role: string }[]).filter((m) => m.role === "assistant").length;
  const steps = [
    { content: [{ type: "thinking" as const, thinking: "The user wants the file listed." }, { type: "text" as const, text: "Listing files." }, { type: "tool_use" as const, id: "toolu_1", name: "glob", input: { pattern: "*" } }] },
    { content: [{ type: "text" as const, text: "Now the date." }, { type: "tool_use" as const, id: "toolu_2", name: "bash", input: { command: "echo hi" } }] },
    { content: [{ type: "thinking" as const, thinking: "Both ran." }, { type: "text" as const, text: "Done." }] },
    { content: [{ type: "thinking" as const, thinking: "A follow-up." }, { type: "text" as const, text: "Again done." }] },
  ];
  return { reply: steps[assistants]! };
};

describe("request settings by model", () => {
  it("asks today's models for summarized adaptive thinking and the effort, and older ones for neither", () => {
    const settings = { maxTokens: 10, system: "s", tools: [], effort: "medium" as const };
    for (const model of ["claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-sonnet-4-6"]) {
      const body = requestOf({ ...settings, model }, []);
      expect(body.thinking, model).toEqual({ type: "adaptive", display: "summarized" });
      expect(body.output_config, model).toEqual({ effort: "medium" });
      expect(contextWindowOf(model)).toBe(1_000_000);
    }
    for (const model of ["claude-haiku-4-5-20251001", "claude-sonnet-4-5", "claude-opus-4-1", "claude-sonnet-4-20250514"]) {
      const body = requestOf({ ...settings, model }, []);
      expect(body.thinking, model).toBeUndefined();
      expect(body.output_config, model).toBeUndefined();
      expect(contextWindowOf(model)).toBe(200_000);
    }
  });
});

describe("the tool loop on today's model", () => {
  it("asks for summarized thinking, emits the reasoning and the between-tools notes, and sends every block back unchanged", async () => {
    model = await startFakeModel({ script: REASONING, listen: { port: 0 } });
    const client = new Anthropic({ baseURL: model.url!, apiKey: "k", maxRetries: 0 });
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "fix it" }];
    const ctx = contextOf(client, { window: 1_000_000, lastPromptTokens: 0 }, "low");
    const result = await runTurn(messages, ctx);
    expect(result).toEqual({ stopReason: "end_turn", text: "Done." });
    expect(events.filter((e) => e.type === "agent.thinking").map((e) => e.data.text)).toEqual(["The user wants the file listed.", "Listing files.", "Now the date.", "Both ran."]);
    messages.push({ role: "user", content: "and again" });
    await runTurn(messages, { ...ctx, turn: 1 });
    expect(model.rejected).toEqual([]);
    expect(model.requests).toHaveLength(4);
    for (const request of model.requests) {
      expect(request.body.thinking).toEqual({ type: "adaptive", display: "summarized" });
      expect(request.body.output_config).toEqual({ effort: "low" });
    }
    // The first answer's thinking blocks, signatures and all, are in every later request as they came.
    const firstAnswer = messages[1] as { content: { type: string; signature?: string }[] };
    expect(firstAnswer.content.filter((b) => b.type === "thinking")).toHaveLength(2);
    expect(JSON.stringify(model.requests[3]!.body.messages)).toContain(firstAnswer.content[0]!.signature);
  });

  it.each([
    ["a thinking budget", (b: Record<string, unknown>) => (b.thinking as { budget_tokens?: unknown }).budget_tokens],
    ["temperature", (b: Record<string, unknown>) => b.temperature],
    ["top_p", (b: Record<string, unknown>) => b.top_p],
    ["top_k", (b: Record<string, unknown>) => b.top_k],
    ["a forced tool choice", (b: Record<string, unknown>) => b.tool_choice],
    ["disabled thinking", (b: Record<string, unknown>) => ((b.thinking as { type: string }).type === "disabled" ? b.thinking : undefined)],
    ["an assistant prefill", (b: Record<string, unknown>) => ((b.messages as { role: string }[]).at(-1)?.role === "assistant" ? "prefill" : undefined)],
  ])("never sends %s, which the stand-in would refuse with 400", async (_name, setting) => {
    model = await startFakeModel({ script: REASONING, listen: { port: 0 } });
    const client = new Anthropic({ baseURL: model.url!, apiKey: "k", maxRetries: 0 });
    for (const effort of [undefined, "low", "medium", "high"] as const) {
      events = [];
      await runTurn([{ role: "user", content: "fix it" }], contextOf(client, { window: 1_000_000, lastPromptTokens: 0 }, effort));
    }
    expect(model.rejected).toEqual([]);
    expect(model.requests).toHaveLength(12);
    for (const request of model.requests) expect(setting(request.body)).toBeUndefined();
  });
});

/** Long tool output each round until the conversation has been compacted, then an answer. */
const LONG_TASK: Script = (request) => {
  if (lastUserText(request).includes(SUMMARY_REQUEST)) return { reply: { content: [{ type: "text", text: "Printed many lines; nothing left but to answer." }] } };
  if (firstText(request).includes(SUMMARY_HEADING)) return { reply: { content: [{ type: "text", text: "Finished after the summary." }] } };
  const round = (request.body.messages as { role: string }[]).filter((m) => m.role === "assistant").length;
  return { reply: { content: [{ type: "text", text: `Round ${round}.` }, { type: "tool_use", id: `toolu_r${round}`, name: "bash", input: { command: "seq 1 400" } }] } };
};

describe("compaction", () => {
  it("summarises the conversation when the API says the prompt is too long, learns the window, and goes on", async () => {
    model = await startFakeModel({ script: LONG_TASK, listen: { port: 0 }, contextWindow: 3000 });
    const client = new Anthropic({ baseURL: model.url!, apiKey: "k", maxRetries: 0 });
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "fix it" }];
    const context = { window: 1_000_000, lastPromptTokens: 0 };
    const result = await runTurn(messages, contextOf(client, context));
    expect(result.text).toBe("Finished after the summary.");
    expect(model.rejected.map((r) => r.reason)).toEqual([expect.stringMatching(/^prompt is too long: \d+ tokens > 3000 maximum$/)]);
    expect(context.window).toBe(3000);
    const compacted = events.filter((e) => e.type === "context.compacted");
    expect(compacted).toHaveLength(1);
    const data = compacted[0]!.data as { tokensBefore: number; tokensAfter: number };
    expect(data.tokensBefore).toBeGreaterThan(3000);
    expect(data.tokensAfter).toBeLessThan(data.tokensBefore);
    expect(messages[0]).toEqual({ role: "user", content: expect.stringContaining("Printed many lines") });
    expect(messages[0]).toEqual({ role: "user", content: expect.stringMatching(/^fix it\n/) });
  });

  it("compacts before the window is reached when the last prompt came near it", async () => {
    model = await startFakeModel({ script: LONG_TASK, listen: { port: 0 }, contextWindow: 3000, usageFromPrompt: true });
    const client = new Anthropic({ baseURL: model.url!, apiKey: "k", maxRetries: 0 });
    const context = { window: 3000, lastPromptTokens: 0 };
    const result = await runTurn([{ role: "user", content: "fix it" }], contextOf(client, context));
    expect(result.text).toBe("Finished after the summary.");
    expect(model.rejected).toEqual([]);
    const compacted = events.find((e) => e.type === "context.compacted")!.data as { tokensBefore: number; tokensAfter: number };
    expect(compacted.tokensBefore).toBeGreaterThanOrEqual(2400);
    expect(compacted.tokensAfter).toBeLessThan(compacted.tokensBefore);
  });
});
