import Anthropic from "@anthropic-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { startFakeModel, type FakeModel } from "../../test/fake-model/index.ts";
import { compact, nearsWindow, promptTooLong, SUMMARY_HEADING, SUMMARY_REQUEST, transcriptOf } from "./compaction.ts";

let model: FakeModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

const settings = { model: "claude-sonnet-5-5", maxTokens: 1000, system: "sys", tools: [] };

describe("compaction", () => {
  it("reads the window from the API's too-long refusal and nothing else", () => {
    const tooLong = new Anthropic.BadRequestError(400, { type: "error", error: { type: "invalid_request_error", message: "prompt is too long: 1200345 tokens > 1000000 maximum" } }, "400 prompt is too long: 1200345 tokens > 1000000 maximum", new Headers());
    expect(promptTooLong(tooLong)).toEqual({ tokens: 1_200_345, maximum: 1_000_000 });
    expect(promptTooLong(new Anthropic.BadRequestError(400, undefined, "messages: roles must alternate", new Headers()))).toBeNull();
    expect(promptTooLong(new Error("prompt is too long: 5 tokens > 4 maximum"))).toBeNull();
  });

  it("compacts at 80 % of the window", () => {
    expect(nearsWindow({ window: 1000, lastPromptTokens: 799 })).toBe(false);
    expect(nearsWindow({ window: 1000, lastPromptTokens: 800 })).toBe(true);
  });

  it("writes the conversation as a transcript with long tool results clipped and empty thinking left out", () => {
    const text = transcriptOf([
      { role: "user", content: "fix it" },
      {
        role: "assistant",
        content: [
          { type: "thinking", thinking: "", signature: "s.x" },
          { type: "thinking", thinking: "Look first.", signature: "s.y" },
          { type: "tool_use", id: "t1", name: "bash", input: { command: "ls" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "x".repeat(5000) }] },
    ]);
    expect(text).toContain("User: fix it");
    expect(text).toContain("Assistant (reasoning): Look first.");
    expect(text).toContain('Assistant called bash: {"command":"ls"}');
    expect(text).toContain("[3000 more characters]");
    expect(text.match(/reasoning/g)).toHaveLength(1);
  });

  it("starts again from the prompt and the summary, keeping a follow-up that is not yet answered", async () => {
    model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "Fixed add; tests pass." }] } }], listen: { port: 0 } });
    const client = new Anthropic({ baseURL: model.url!, apiKey: "k", maxRetries: 0 });
    const start = await compact(
      client,
      settings,
      [
        { role: "user", content: "fix it" },
        { role: "assistant", content: [{ type: "text", text: "Done." }] },
        { role: "user", content: "Now add a sub function." },
      ],
      "fix it",
      10_000,
      new AbortController().signal,
    );
    expect(start).toEqual([{ role: "user", content: `fix it\n\n${SUMMARY_HEADING}\nFixed add; tests pass.\n\nThe user's latest message, not yet answered:\nNow add a sub function.` }]);
    const asked = model.requests[0]!.body as { tools?: unknown; messages: { content: string }[] };
    expect(asked.tools).toBeUndefined();
    expect(asked.messages).toHaveLength(1);
    expect(asked.messages[0]!.content).toContain(SUMMARY_REQUEST);
    expect(model.rejected).toEqual([]);
  });
});
