import Anthropic from "@anthropic-ai/sdk";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEventBody } from "../../shared/events.ts";
import { startFakeModel, type FakeModel, type ScriptStep } from "../../test/fake-model/index.ts";
import { BudgetGate } from "./budget-gate.ts";
import { appendUserText, MalformedAnswer, runTurn, withCacheBreakpoint, type LoopContext } from "./loop.ts";
import { makeTestWorkspace, type TestWorkspace } from "./tools/test-context.ts";

let ws: TestWorkspace;
let model: FakeModel | undefined;
let events: AgentEventBody[];
let saves: number;
beforeEach(async () => {
  ws = await makeTestWorkspace();
  events = [];
  saves = 0;
});
afterEach(async () => {
  await model?.close();
  await ws.cleanup();
});

async function turn(script: ScriptStep[], messages: Anthropic.MessageParam[] = [{ role: "user", content: "go" }], budget = new BudgetGate()) {
  model = await startFakeModel({ script, listen: { port: 0 } });
  const ctx: LoopContext = {
    client: new Anthropic({ baseURL: model.url!, apiKey: "k", maxRetries: 0 }),
    model: "claude-sonnet-5-5",
    maxTokens: 1000,
    system: "sys",
    prompt: "go",
    context: { window: 1_000_000, lastPromptTokens: 0 },
    root: ws.root,
    turn: 0,
    budget,
    commandTimeoutMs: 10_000,
    emit: (e) => events.push(e),
    signal: new AbortController().signal,
    save: async () => {
      saves++;
    },
  };
  return { result: await runTurn(messages, ctx), messages };
}

describe("runTurn", () => {
  it("continues a paused turn and joins the continuation to the same assistant message", async () => {
    const { result, messages } = await turn([
      { reply: { content: [{ type: "thinking", thinking: "part one" }], stop_reason: "pause_turn" } },
      { reply: { content: [{ type: "text", text: "part two" }], stop_reason: "end_turn" } },
    ]);
    expect(result).toEqual({ stopReason: "end_turn", text: "part two" });
    expect(messages).toEqual([
      { role: "user", content: "go" },
      { role: "assistant", content: [{ type: "thinking", thinking: "part one", signature: expect.any(String) }, { type: "text", text: "part two" }] },
    ]);
    expect((model!.requests[1]!.body.messages as { role: string }[]).at(-1)?.role).toBe("assistant");
  });

  it("asks the model to go on after max_tokens, and does not run a cut-off tool call", async () => {
    const { messages } = await turn([
      { reply: { content: [{ type: "text", text: "cut" }], stop_reason: "max_tokens" } },
      { reply: { content: [{ type: "tool_use", id: "toolu_cut", name: "bash", input: { command: "touch ran" } }], stop_reason: "max_tokens" } },
      { reply: { content: [{ type: "text", text: "ok" }] } },
    ]);
    expect(messages[2]).toMatchObject({ role: "user", content: expect.stringContaining("cut off") });
    expect(JSON.stringify(messages[4])).toContain("not run");
    expect(events.some((e) => e.type === "tool.start")).toBe(false);
  });

  it("ends the turn on a refusal", async () => {
    expect((await turn([{ reply: { content: [{ type: "text", text: "no" }], stop_reason: "refusal" } }])).result.stopReason).toBe("refusal");
  });

  it("counts no model calls of its own: a turn goes on until the model ends it", async () => {
    const loop = { reply: { content: [{ type: "tool_use" as const, name: "glob", input: { pattern: "*" } }] } };
    const { result } = await turn([loop, loop, loop, loop, loop, { reply: { content: [{ type: "text", text: "done" }] } }]);
    expect(result.stopReason).toBe("end_turn");
    expect(model!.requests).toHaveLength(6);
  });

  it("a call refused at a reached budget waits for budget.raised and is made again with the same history", async () => {
    const refusal = { status: 400, type: "invalid_request_error", message: "Tether task budget exceeded: turn budget spent", headers: { "x-tether-budget-exceeded": "true" } };
    const gate = new BudgetGate();
    const running = turn([{ reply: { content: [{ type: "tool_use", name: "glob", input: { pattern: "*" } }] } }, { error: refusal }, { reply: { content: [{ type: "text", text: "went on" }] } }], undefined, gate);
    const deadline = Date.now() + 10_000;
    while (model?.requests.length !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(model!.requests).toHaveLength(2);
    gate.raised();
    const { result } = await running;
    expect(result).toEqual({ stopReason: "end_turn", text: "went on" });
    expect(model!.requests).toHaveLength(3);
    expect(model!.requests[2]!.body.messages).toEqual(model!.requests[1]!.body.messages);
  });

  it("refuses an answer that stops for tool_use without a tool call", async () => {
    await expect(turn([{ reply: { content: [{ type: "text", text: "?" }], stop_reason: "tool_use" } }])).rejects.toThrow(MalformedAnswer);
  });

  it("answers an unknown tool with an error result and goes on", async () => {
    const { messages } = await turn([
      { reply: { content: [{ type: "tool_use", id: "toolu_x", name: "teleport", input: {} }] } },
      { reply: { content: [{ type: "text", text: "fine" }] } },
    ]);
    expect(messages[2]).toEqual({ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: expect.stringContaining("no tool named"), is_error: true }] });
    expect(events.find((e) => e.type === "tool.end")?.data).toMatchObject({ callID: "toolu_x", ok: false });
    expect(saves).toBeGreaterThanOrEqual(2);
  });
});

describe("history helpers", () => {
  it("puts the cache breakpoint on a copy of the last block", () => {
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "hi" }];
    expect(withCacheBreakpoint(messages)).toEqual([{ role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }] }]);
    expect(messages).toEqual([{ role: "user", content: "hi" }]);
  });

  it("joins a user text to a user message already last", () => {
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "r" }] }];
    appendUserText(messages, "and then");
    expect(messages).toEqual([{ role: "user", content: [{ type: "tool_result", tool_use_id: "t", content: "r" }, { type: "text", text: "and then" }] }]);
  });
});
