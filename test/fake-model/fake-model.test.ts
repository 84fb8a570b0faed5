import Anthropic from "@anthropic-ai/sdk";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { keyOf, startFakeModel, type FakeModel } from "./index.ts";
import { fixTheFailingTestScript } from "./scripts.ts";

let model: FakeModel | undefined;
afterEach(async () => {
  await model?.close();
  model = undefined;
});

const client = (url: string, maxRetries = 0) => new Anthropic({ baseURL: url, apiKey: "test-key", maxRetries });
const user = (text: string) => ({ role: "user" as const, content: text });

describe("fake model", () => {
  it("answers a JSON request with the scripted message", async () => {
    model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "hello" }] } }], listen: { port: 0 } });
    const message = await client(model.url!).messages.create({ model: "m", max_tokens: 10, messages: [user("hi")] });
    expect(message.content).toEqual([{ type: "text", text: "hello" }]);
    expect(message.stop_reason).toBe("end_turn");
    expect(keyOf(model.requests[0]!.headers)).toBe("test-key");
    expect(model.requests[0]?.body.messages).toEqual([user("hi")]);
  });

  it("streams text, thinking and tool_use with the real event sequence, which the SDK reassembles", async () => {
    const input = { command: "str_replace", path: "a.js", old_str: "x - y", new_str: "x + y" };
    model = await startFakeModel({
      script: [{ reply: { content: [{ type: "text", text: "a fairly long sentence to split" }, { type: "tool_use", id: "toolu_1", name: "edit", input }] } }],
      listen: { port: 0 },
    });
    const stream = client(model.url!).messages.stream({ model: "m", max_tokens: 10, thinking: { type: "adaptive", display: "summarized" }, messages: [user("go")] });
    const types: string[] = [];
    const thinking: string[] = [];
    const texts: string[] = [];
    stream.on("streamEvent", (event) => types.push(event.type === "content_block_delta" ? event.delta.type : event.type));
    stream.on("thinking", (delta) => thinking.push(delta));
    stream.on("text", (text) => texts.push(text));
    const message = await stream.finalMessage();
    // Text between tool calls comes back as thinking, so no text delta streams.
    expect(texts).toEqual([]);
    expect(thinking.length).toBeGreaterThan(1);
    expect(thinking.join("")).toBe("a fairly long sentence to split");
    expect(message.content[0]).toMatchObject({ type: "thinking", thinking: "a fairly long sentence to split", signature: expect.stringMatching(/\S+\.\S+/) });
    expect(message.content[1]).toMatchObject({ type: "tool_use", id: "toolu_1", name: "edit", input });
    expect(message.stop_reason).toBe("tool_use");
    expect(types[0]).toBe("message_start");
    expect(types.at(-1)).toBe("message_stop");
    expect(types.filter((t) => t === "content_block_start")).toHaveLength(2);
    expect(types.filter((t) => t === "signature_delta")).toHaveLength(1);
    expect(types.filter((t) => t === "input_json_delta").length).toBeGreaterThan(4);
    expect(types.at(-2)).toBe("message_delta");
  });

  it("works over a unix socket reachable by anyone", async () => {
    const dir = await mkdtemp(join(tmpdir(), "fake-model-"));
    try {
      model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "via socket" }] } }], listen: { socketPath: join(dir, "model.sock") } });
      expect((await stat(model.socketPath!)).mode & 0o777).toBe(0o666);
      const body = JSON.stringify({ model: "m", max_tokens: 5, messages: [user("hi")] });
      const answer = await new Promise<string>((resolve, reject) => {
        const req = request({ socketPath: model!.socketPath, path: "/v1/messages", method: "POST", headers: { "content-type": "application/json" } }, (res) => {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () => resolve(text));
        });
        req.on("error", reject);
        req.end(body);
      });
      expect(JSON.parse(answer).content[0].text).toBe("via socket");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses requests the real API refuses, without using up a step", async () => {
    model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "fine" }] } }], listen: { port: 0 } });
    const c = client(model.url!);
    const refusal = async (body: Record<string, unknown>) => {
      const err = await c.messages.create(body as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.BadRequestError);
      return (err as InstanceType<typeof Anthropic.BadRequestError>).message;
    };
    expect(await refusal({ max_tokens: 5, messages: [user("x")] })).toMatch(/model/);
    expect(await refusal({ model: "m", messages: [user("x")] })).toMatch(/max_tokens/);
    expect(await refusal({ model: "m", max_tokens: 5, messages: [] })).toMatch(/messages/);
    expect(await refusal({ model: "m", max_tokens: 5, messages: [user("a"), user("b")] })).toMatch(/alternate/);
    const asked = { role: "assistant", content: [{ type: "tool_use", id: "toolu_9", name: "bash", input: {} }] };
    expect(await refusal({ model: "m", max_tokens: 5, messages: [user("a"), asked, user("no result")] })).toMatch(/toolu_9/);
    expect(await refusal({ model: "m", max_tokens: 5, messages: [user("a"), asked] })).toMatch(/tool_result/);
    const stray = { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_x", content: "?" }] };
    expect(await refusal({ model: "m", max_tokens: 5, messages: [user("a"), { role: "assistant", content: "ok" }, stray] })).toMatch(/toolu_x/);
    expect(model.rejected).toHaveLength(7);
    expect(model.requests).toHaveLength(0);
    const answered = { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_9", content: "done" }] };
    const ok = await c.messages.create({ model: "m", max_tokens: 5, messages: [user("a"), asked, answered] as never });
    expect(ok.content).toEqual([{ type: "text", text: "fine" }]);
  });

  it("answers errors in the API's shape: 429 with retry-after, then the SDK's retry succeeds", async () => {
    model = await startFakeModel({
      script: [
        { error: { status: 429, type: "rate_limit_error", message: "slow down", retryAfterSeconds: 0 } },
        { error: { status: 529, type: "overloaded_error", message: "busy" } },
        { reply: { content: [{ type: "text", text: "after retries" }] } },
      ],
      listen: { port: 0 },
    });
    const message = await client(model.url!, 3).messages.create({ model: "m", max_tokens: 5, messages: [user("x")] });
    expect(message.content).toEqual([{ type: "text", text: "after retries" }]);
    expect(model.requests).toHaveLength(3);
  });

  it("gives the SDK a typed error with the scripted status and message", async () => {
    model = await startFakeModel({ script: [{ error: { status: 529, type: "overloaded_error", message: "busy now" } }], listen: { port: 0 } });
    const err = await client(model.url!).messages.create({ model: "m", max_tokens: 5, messages: [user("x")] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
    expect((err as InstanceType<typeof Anthropic.APIError>).error).toEqual({ type: "error", error: { type: "overloaded_error", message: "busy now" } });
  });

  it("can fail mid-stream with an SSE error event, which the SDK raises", async () => {
    model = await startFakeModel({ script: [{ streamError: { type: "overloaded_error", message: "Overloaded", partialText: "half an ans" } }], listen: { port: 0 } });
    const deltas: string[] = [];
    const stream = client(model.url!).messages.stream({ model: "m", max_tokens: 5, messages: [user("x")] });
    stream.on("text", (t) => deltas.push(t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.APIError);
    expect((err as InstanceType<typeof Anthropic.APIError>).status).toBeUndefined();
    expect((err as InstanceType<typeof Anthropic.APIError>).message).toMatch(/overloaded_error|Overloaded/);
    expect(deltas.join("")).toBe("half an ans");
  });

  it("can hang up mid-stream, which the SDK raises as a broken stream", async () => {
    model = await startFakeModel({ script: [{ hangUp: { partialText: "half" } }], listen: { port: 0 } });
    const deltas: string[] = [];
    const stream = client(model.url!).messages.stream({ model: "m", max_tokens: 5, messages: [user("x")] });
    stream.on("text", (t) => deltas.push(t));
    const err = await stream.finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.AnthropicError);
    expect(err).not.toBeInstanceOf(Anthropic.APIError);
    expect(deltas.join("")).toBe("half");
  });

  it("checks the api key when given one, and says when the script runs out", async () => {
    model = await startFakeModel({ script: [], listen: { port: 0 }, apiKey: "right" });
    const wrong = await client(model.url!).messages.create({ model: "m", max_tokens: 5, messages: [user("x")] }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    const right = new Anthropic({ baseURL: model.url!, apiKey: "right", maxRetries: 0 });
    const out = await right.messages.create({ model: "m", max_tokens: 5, messages: [user("x")] }).catch((e: unknown) => e);
    expect(String(out)).toMatch(/no step 0/);
  });

  it("lets a function script answer from the request", async () => {
    model = await startFakeModel({
      script: (request, index) => ({ reply: { content: [{ type: "text", text: `${index}:${(request.body.messages as unknown[]).length}` }] } }),
      listen: { port: 0 },
    });
    const m = await client(model.url!).messages.create({ model: "m", max_tokens: 5, messages: [user("x")] });
    expect(m.content).toEqual([{ type: "text", text: "0:1" }]);
  });

  it("ships a fix-the-test script whose tool calls all have ids and inputs", () => {
    const steps = fixTheFailingTestScript();
    const uses = steps.flatMap((s) => ("reply" in s ? s.reply.content.filter((b) => b.type === "tool_use") : []));
    expect(uses.map((u) => u.name)).toEqual(["glob", "str_replace_based_edit_tool", "bash", "str_replace_based_edit_tool", "bash"]);
    expect(new Set(uses.map((u) => u.id)).size).toBe(uses.length);
  });
});
