import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { keyOf, startFakeModel, type FakeModel } from "../../test/fake-model/index.ts";
import { createModelClient, DEFAULT_MODEL, streamMessage } from "./model-client.ts";

const sdkDir = dirname(createRequire(import.meta.url).resolve("@anthropic-ai/sdk"));
let model: FakeModel | undefined;
let dir: string | undefined;
afterEach(async () => {
  await model?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("model client", () => {
  it("uses a model the SDK lists and does not mark deprecated", () => {
    const types = readFileSync(join(sdkDir, "resources/messages/messages.d.ts"), "utf8");
    const modelType = /export type Model = ([^;]+);/.exec(types)?.[1] ?? "";
    expect(modelType).toContain(`'${DEFAULT_MODEL}'`);
    const deprecated = readFileSync(join(sdkDir, "internal/data/deprecated-models.js"), "utf8");
    expect(deprecated).not.toContain(`'${DEFAULT_MODEL}'`);
  });

  it("streams through the proxy socket with the task token, retrying a 429", async () => {
    dir = await mkdtemp(join(tmpdir(), "model-client-"));
    model = await startFakeModel({
      script: [
        { error: { status: 429, type: "rate_limit_error", message: "slow down", retryAfterSeconds: 0 } },
        { reply: { content: [{ type: "text", text: "streamed over a socket" }] } },
      ],
      listen: { socketPath: join(dir, "proxy.sock") },
      apiKey: "task-token",
    });
    const client = createModelClient({ socketPath: model.socketPath!, token: "task-token" }, { maxRetries: 2 });
    const deltas: string[] = [];
    const message = await streamMessage(client, { model: DEFAULT_MODEL, max_tokens: 100, messages: [{ role: "user", content: "hi" }] }, (d) => deltas.push(d), new AbortController().signal);
    expect(message.content).toEqual([{ type: "text", text: "streamed over a socket" }]);
    expect(deltas.length).toBeGreaterThan(1);
    expect(model.requests).toHaveLength(2);
    expect(keyOf(model.requests[1]!.headers)).toBe("task-token");
    expect(model.requests[1]!.body.stream).toBe(true);
  });

  it("tries again when the stream breaks off with an overloaded error, and gives up in the end", async () => {
    dir = await mkdtemp(join(tmpdir(), "model-client-"));
    const broken = { streamError: { type: "overloaded_error", message: "Overloaded", partialText: "hal" } };
    model = await startFakeModel({ script: [broken, broken, { reply: { content: [{ type: "text", text: "whole" }] } }], listen: { socketPath: join(dir, "proxy.sock") } });
    const client = createModelClient({ socketPath: model.socketPath!, token: "t" }, { maxRetries: 0 });
    const params = { model: DEFAULT_MODEL, max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };
    const deltas: string[] = [];
    const message = await streamMessage(client, params, (d) => deltas.push(d), new AbortController().signal, 10);
    expect(message.content).toEqual([{ type: "text", text: "whole" }]);
    expect(deltas.join("")).toBe("halhalwhole");
    expect(model.requests).toHaveLength(3);

    await model.close();
    model = await startFakeModel({ script: () => broken, listen: { socketPath: join(dir, "proxy.sock") } });
    await expect(streamMessage(client, params, () => {}, new AbortController().signal, 1)).rejects.toThrow(/Overloaded|overloaded/);
    expect(model.requests).toHaveLength(9);
  });

  it("tries again when the proxy hangs up mid-answer or is not there yet (a runner restarting)", async () => {
    dir = await mkdtemp(join(tmpdir(), "model-client-"));
    const socketPath = join(dir, "proxy.sock");
    model = await startFakeModel({ script: [{ hangUp: { partialText: "cut" } }], listen: { socketPath } });
    const client = createModelClient({ socketPath, token: "t" }, { maxRetries: 0 });
    const params = { model: DEFAULT_MODEL, max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };
    const retries: string[] = [];
    const stderr = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (retries.push(String(chunk)), true));
    try {
      const deltas: string[] = [];
      const first = model;
      let closed: Promise<void> | undefined;
      // The first answer streams a part and breaks off, and the proxy goes away as it does.
      const onText = (d: string) => {
        deltas.push(d);
        if (d === "cut") closed ??= first.close();
      };
      const done = streamMessage(client, params, onText, new AbortController().signal, 50);
      await expect.poll(() => closed !== undefined).toBe(true);
      await closed;
      expect(deltas).toEqual(["cut"]);
      expect(first.requests).toHaveLength(1);
      // The client says it tries again, finds no socket, and tries again.
      await expect.poll(() => retries.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      expect(retries[0]).toMatch(/the model call failed/);
      expect(retries.slice(1).every((line) => /Connection error|ENOENT|ECONNREFUSED/i.test(line))).toBe(true);
      // Back with a new socket at the same path: the call completes there.
      model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "back" }] } }], listen: { socketPath } });
      expect((await done).content).toEqual([{ type: "text", text: "back" }]);
      expect(deltas).toEqual(["cut", "back"]);
      expect(model.requests).toHaveLength(1);
    } finally {
      stderr.mockRestore();
    }
  });

  it("does not retry errors that are not transient", async () => {
    dir = await mkdtemp(join(tmpdir(), "model-client-"));
    model = await startFakeModel({ script: () => ({ streamError: { type: "invalid_request_error", message: "bad" } }), listen: { socketPath: join(dir, "proxy.sock") } });
    const client = createModelClient({ socketPath: model.socketPath!, token: "t" }, { maxRetries: 0 });
    await expect(streamMessage(client, { model: DEFAULT_MODEL, max_tokens: 10, messages: [{ role: "user", content: "x" }] }, () => {}, new AbortController().signal, 1)).rejects.toThrow();
    expect(model.requests).toHaveLength(1);
    await model.close();
    model = await startFakeModel({ script: () => ({ raw: { status: 200, contentType: "text/event-stream", body: "event: message_start\ndata: {oops\n\n" } }), listen: { socketPath: join(dir, "proxy.sock") } });
    await expect(streamMessage(client, { model: DEFAULT_MODEL, max_tokens: 10, messages: [{ role: "user", content: "x" }] }, () => {}, new AbortController().signal, 1)).rejects.toThrow(/JSON/);
    expect(model.requests).toHaveLength(1);
  });
});
