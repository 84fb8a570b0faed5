import { describe, expect, it } from "vitest";
import { UsageReader } from "./usage.ts";

const sse = (events: object[]) => events.map((e) => `event: x\ndata: ${JSON.stringify(e)}\n\n`).join("");

describe("UsageReader", () => {
  it("reads a JSON message's model and usage", () => {
    const r = UsageReader.forContentType("application/json")!;
    const body = JSON.stringify({ model: "m", usage: { input_tokens: 5, output_tokens: 6, cache_creation_input_tokens: 7, cache_read_input_tokens: 8 } });
    r.write(Buffer.from(body.slice(0, 10)));
    r.write(Buffer.from(body.slice(10)));
    expect(r.end()).toEqual({ model: "m", tokens: { inputTokens: 5, outputTokens: 6, cacheWriteTokens: 7, cacheReadTokens: 8 }, complete: true });
  });

  it("takes the last value of each count across message_start and message_delta, split anywhere", () => {
    const r = UsageReader.forContentType("text/event-stream; charset=utf-8")!;
    const text = sse([
      { type: "message_start", message: { model: "m", usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 3 } } },
      { type: "content_block_delta", delta: { type: "text_delta", text: "x".repeat(5000) } },
      { type: "message_delta", usage: { output_tokens: 40 } },
      { type: "message_delta", usage: { input_tokens: 12, output_tokens: 55 } },
    ]);
    for (let i = 0; i < text.length; i += 7) r.write(Buffer.from(text.slice(i, i + 7)));
    expect(r.end()).toEqual({ model: "m", tokens: { inputTokens: 12, outputTokens: 55, cacheWriteTokens: 0, cacheReadTokens: 3 }, complete: true });
  });

  it("says a stream that broke off before its message_delta has no final output count", () => {
    const r = UsageReader.forContentType("text/event-stream")!;
    r.write(Buffer.from(sse([{ type: "message_start", message: { model: "m", usage: { input_tokens: 10, output_tokens: 1 } } }])));
    r.write(Buffer.from('data: {"type":"content_block_delta","del'));
    expect(r.end()).toEqual({ model: "m", tokens: { inputTokens: 10, outputTokens: 1, cacheWriteTokens: 0, cacheReadTokens: 0 }, complete: false });
  });

  it("reports nothing for a response without usage, and ignores bad counts", () => {
    const none = UsageReader.forContentType("application/json")!;
    none.write(Buffer.from('{"type":"error"}'));
    expect(none.end()).toBeUndefined();
    const bad = UsageReader.forContentType("text/event-stream")!;
    bad.write(Buffer.from(sse([{ type: "message_start", message: { model: "m", usage: { input_tokens: -4, output_tokens: 2.5 } } }])));
    expect(bad.end()?.tokens).toEqual({ inputTokens: 0, outputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0 });
    expect(UsageReader.forContentType("text/plain")).toBeUndefined();
  });
});
