import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeModel, type FakeModel, type ScriptStep } from "./index.ts";

let model: FakeModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

const client = (url: string) => new Anthropic({ baseURL: url, apiKey: "k", maxRetries: 0 });
const user = (text: string) => ({ role: "user" as const, content: text });
const MODEL = "claude-sonnet-5-5";

/** Up-front thinking, a progress note and a tool call; then the answer. */
const SCRIPT: ScriptStep[] = [
  {
    reply: {
      content: [
        { type: "thinking", thinking: "The user wants the tests run." },
        { type: "text", text: "Running the tests now." },
        { type: "tool_use", id: "toolu_a", name: "bash", input: { command: "npm test" } },
      ],
    },
  },
  { reply: { content: [{ type: "thinking", thinking: "They pass." }, { type: "text", text: "All green." }] } },
];

async function errorOf(promise: Promise<unknown>): Promise<{ status: number | undefined; body: unknown }> {
  const err = await promise.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Anthropic.APIError);
  return { status: (err as InstanceType<typeof Anthropic.APIError>).status, body: (err as InstanceType<typeof Anthropic.APIError>).error };
}

describe("fake model: today's model", () => {
  it("thinks adaptively by default and omits the thinking text, keeping a signature", async () => {
    model = await startFakeModel({ script: SCRIPT, listen: { port: 0 } });
    const message = await client(model.url!).messages.create({ model: MODEL, max_tokens: 100, messages: [user("run the tests")] });
    expect(message.content.map((b) => b.type)).toEqual(["thinking", "thinking", "tool_use"]);
    for (const block of message.content.slice(0, 2)) {
      expect(block).toMatchObject({ type: "thinking", thinking: "" });
      expect((block as Anthropic.ThinkingBlock).signature.length).toBeGreaterThan(20);
    }
  });

  it("returns the thinking text with display summarized, and only the between-tools note under between_tools", async () => {
    model = await startFakeModel({ script: [SCRIPT[0]!, SCRIPT[0]!], listen: { port: 0 } });
    const c = client(model.url!);
    const summarized = await c.messages.create({ model: MODEL, max_tokens: 100, thinking: { type: "adaptive", display: "summarized" }, messages: [user("go")] });
    expect(summarized.content.slice(0, 2)).toMatchObject([
      { type: "thinking", thinking: "The user wants the tests run." },
      { type: "thinking", thinking: "Running the tests now." },
    ]);
    const between = await c.messages.create({ model: MODEL, max_tokens: 100, thinking: { type: "between_tools" }, messages: [user("go")] });
    expect(between.content.map((b) => b.type)).toEqual(["thinking", "tool_use"]);
    expect(between.content[0]).toMatchObject({ thinking: "Running the tests now." });
  });

  it("takes its thinking blocks back unchanged, and refuses them altered, dropped, or sent to another model", async () => {
    model = await startFakeModel({ script: SCRIPT, listen: { port: 0 } });
    const c = client(model.url!);
    const first = await c.messages.create({ model: MODEL, max_tokens: 100, thinking: { type: "adaptive", display: "summarized" }, messages: [user("go")] });
    const result = { role: "user" as const, content: [{ type: "tool_result" as const, tool_use_id: "toolu_a", content: "ok" }] };
    const history = (content: unknown[]) => [user("go"), { role: "assistant" as const, content: content as Anthropic.ContentBlockParam[] }, result];
    const [up, note, use] = first.content as [Anthropic.ThinkingBlock, Anthropic.ThinkingBlock, Anthropic.ToolUseBlock];

    const altered = await errorOf(c.messages.create({ model: MODEL, max_tokens: 100, messages: history([{ ...up, thinking: "Something else." }, note, use]) }));
    expect(altered.status).toBe(400);
    expect(altered.body).toMatchObject({ type: "error", error: { type: "invalid_request_error", message: expect.stringMatching(/signature/) } });
    const dropped = await errorOf(c.messages.create({ model: MODEL, max_tokens: 100, messages: history([note, use]) }));
    expect(dropped.body).toMatchObject({ error: { type: "invalid_request_error", message: expect.stringMatching(/dropped/) } });
    const otherModel = await errorOf(c.messages.create({ model: "claude-opus-5-5", max_tokens: 100, messages: history([up, note, use]) }));
    expect(otherModel.status).toBe(400);
    expect(model.requests).toHaveLength(1);

    const second = await c.messages.create({ model: MODEL, max_tokens: 100, messages: history([up, note, use]) });
    expect(second.content.at(-1)).toEqual({ type: "text", text: "All green." });
  });

  it.each([
    ["a thinking budget", { thinking: { type: "enabled", budget_tokens: 2048 } }, /budget_tokens/],
    ["temperature", { temperature: 0.2 }, /sampling parameters/],
    ["top_p", { top_p: 0.9 }, /sampling parameters/],
    ["top_k", { top_k: 5 }, /sampling parameters/],
    ["an assistant prefill", { messages: [user("go"), { role: "assistant", content: "Sure," }] }, /prefill/],
    ["a forced tool", { tool_choice: { type: "tool", name: "bash" } }, /forced tool use/],
    ["any tool", { tool_choice: { type: "any" } }, /forced tool use/],
    ["thinking disabled", { thinking: { type: "disabled" } }, /between_tools/],
  ])("refuses %s with 400 invalid_request_error", async (_name, extra, message) => {
    model = await startFakeModel({ script: SCRIPT, listen: { port: 0 } });
    const body = { model: MODEL, max_tokens: 100, messages: [user("go")], ...extra };
    const refusal = await errorOf(client(model.url!).messages.create(body as never));
    expect(refusal.status).toBe(400);
    expect(refusal.body).toEqual({ type: "error", error: { type: "invalid_request_error", message: expect.stringMatching(message) } });
    expect(model.requests).toHaveLength(0);
  });

  it("accepts an effort and refuses an unknown one", async () => {
    model = await startFakeModel({ script: SCRIPT, listen: { port: 0 } });
    const c = client(model.url!);
    const bad = await errorOf(c.messages.create({ model: MODEL, max_tokens: 100, output_config: { effort: "extreme" as never }, messages: [user("go")] }));
    expect(bad.status).toBe(400);
    await c.messages.create({ model: MODEL, max_tokens: 100, output_config: { effort: "low" }, messages: [user("go")] });
    expect(model.requests[0]?.body.output_config).toEqual({ effort: "low" });
  });

  it("refuses a prompt over its context window in the API's words, and reports the prompt's size as input tokens", async () => {
    model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "fine" }] } }], listen: { port: 0 }, contextWindow: 200, usageFromPrompt: true });
    const c = client(model.url!);
    const small = await c.messages.create({ model: MODEL, max_tokens: 10, messages: [user("short")] });
    expect(small.usage.input_tokens).toBeGreaterThan(0);
    expect(small.usage.input_tokens).toBeLessThanOrEqual(200);
    const big = await errorOf(c.messages.create({ model: MODEL, max_tokens: 10, messages: [user("x".repeat(2000))] }));
    expect(big.status).toBe(400);
    expect(big.body).toEqual({ type: "error", error: { type: "invalid_request_error", message: expect.stringMatching(/^prompt is too long: \d+ tokens > 200 maximum$/) } });
  });
});
