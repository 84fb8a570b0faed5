/**
 * A stand-in for the Anthropic Messages API that plays a scripted conversation, for tests of
 * the worker and the runner. `POST /v1/messages` answers JSON or SSE (when `stream: true`)
 * with the real event sequence; requests are checked as the real API checks them (a bad one
 * gets 400 `invalid_request_error` and does not use up a step); errors use the API's shape
 * `{ type: "error", error: { type, message } }`. Listens on 127.0.0.1 or on a unix socket
 * (made reachable by any uid, for containers).
 *
 * It plays today's model (claude-sonnet-5-5): adaptive thinking unless the request says
 * `between_tools`, signed thinking blocks (see thinking.ts) that must come back unchanged,
 * text between tool calls as thinking, and 400 for the settings that model refuses. With
 * `contextWindow` it counts a prompt as a token per 4 characters of its system, tools and
 * messages and refuses a longer one as the API does ("prompt is too long: N tokens > M
 * maximum"); with `usageFromPrompt` it reports that count as `input_tokens` unless the
 * script gives one (else 100).
 *
 *   const model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "hi" }] } }], listen: { port: 0 } });
 *   // ... point the SDK at model.url, then look at model.requests
 *   await model.close();
 */
import { chmod, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { messageOf, sseFramesOf, type ScriptReply } from "./reply.ts";
import { conversationOf, ThinkingSigner, thinkingModeOf } from "./thinking.ts";
import { validateRequest } from "./validate.ts";

export type { ScriptBlock, ScriptReply, ScriptUsage } from "./reply.ts";

export type ScriptStep =
  | { reply: ScriptReply; delayMs?: number }
  | { error: { status: number; type: string; message: string; retryAfterSeconds?: number; headers?: Record<string, string> }; delayMs?: number }
  /** Sends exactly this body: for malformed answers. */
  | { raw: { status: number; contentType: string; body: string }; delayMs?: number }
  /** Starts streaming (message_start, some text) and then sends an SSE `error` event, as the API does when it overloads mid-answer. */
  | { streamError: { type: string; message: string; partialText?: string }; delayMs?: number }
  /** Starts streaming and then drops the connection, as a proxy does when its runner dies. */
  | { hangUp: { partialText?: string }; delayMs?: number };

export interface RecordedRequest {
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export type Script = ScriptStep[] | ((request: RecordedRequest, index: number) => ScriptStep);

export interface FakeModelOptions {
  script: Script;
  listen: { port: 0 } | { socketPath: string };
  /** When set, a request that carries another key (as `x-api-key` or `Authorization: Bearer`) gets 401 `authentication_error`. */
  apiKey?: string;
  /** The largest prompt in tokens (4 characters a token); a longer one gets 400. */
  contextWindow?: number;
  /** Reports the prompt's tokens (4 characters a token) as `input_tokens` instead of 100. */
  usageFromPrompt?: boolean;
  /** The key thinking signatures are made with; stand-ins with the same key accept each other's blocks. */
  signingKey?: string;
}

export interface FakeModel {
  /** `http://127.0.0.1:PORT` when listening on TCP. */
  url?: string;
  socketPath?: string;
  /** Every request that passed validation, in order. */
  requests: RecordedRequest[];
  /** Requests refused as invalid, with the reason. */
  rejected: { body: unknown; reason: string }[];
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "request-id": "req_fake", ...headers });
  res.end(JSON.stringify({ type: "error", error: { type, message } }));
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[key.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** The key a request carries: the SDK sends `Authorization: Bearer`, other clients `x-api-key`. */
export function keyOf(headers: Record<string, string>): string | undefined {
  const bearer = /^Bearer (.+)$/.exec(headers.authorization ?? "");
  return bearer?.[1] ?? headers["x-api-key"];
}

/** How many assistant messages a request's history holds: where the conversation stands. */
export function assistantTurnsOf(request: RecordedRequest): number {
  const messages = (request.body.messages ?? []) as { role: string }[];
  return messages.filter((m) => m.role === "assistant").length;
}

/**
 * A script that answers by where the conversation stands rather than by how many requests
 * came before, so a request the worker sends again (a retry after the proxy dropped it, a
 * restarted runner) gets the same answer, as it would from a real model.
 */
export function byConversation(steps: () => readonly ScriptStep[]): Script {
  return (request) =>
    steps()[assistantTurnsOf(request)] ?? { error: { status: 400, type: "invalid_request_error", message: `the script has no step ${assistantTurnsOf(request)}` } };
}

/** The prompt's size as the stand-in counts it: a token per 4 characters of system, tools and messages. */
export function promptTokensOf(body: Record<string, unknown>): number {
  return Math.ceil(JSON.stringify([body.system ?? null, body.tools ?? null, body.messages]).length / 4);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startFakeModel(options: FakeModelOptions): Promise<FakeModel> {
  const requests: RecordedRequest[] = [];
  const rejected: { body: unknown; reason: string }[] = [];
  const signer = new ThinkingSigner(options.signingKey ?? "fake-model-signing-key");

  const stepFor = (request: RecordedRequest, index: number): ScriptStep => {
    if (typeof options.script === "function") return options.script(request, index);
    const step = options.script[index];
    if (step === undefined) {
      return { error: { status: 400, type: "invalid_request_error", message: `the fake model's script has no step ${index} (it has ${options.script.length})` } };
    }
    return step;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://fake");
    if (req.method !== "POST" || url.pathname !== "/v1/messages") {
      sendError(res, 404, "not_found_error", `no route ${req.method} ${url.pathname}`);
      return;
    }
    const headers = headersOf(req);
    if (options.apiKey !== undefined && keyOf(headers) !== options.apiKey) {
      sendError(res, 401, "authentication_error", "invalid x-api-key");
      return;
    }
    const text = await readBody(req);
    if (text === null) {
      sendError(res, 413, "request_too_large", `request exceeds ${MAX_BODY_BYTES} bytes`);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      sendError(res, 400, "invalid_request_error", "request body is not valid JSON");
      return;
    }
    const problem = validateRequest(body) ?? signer.check(body as Record<string, unknown>);
    if (problem !== null) {
      rejected.push({ body, reason: problem });
      sendError(res, 400, "invalid_request_error", problem);
      return;
    }
    const promptTokens = promptTokensOf(body as Record<string, unknown>);
    if (options.contextWindow !== undefined && promptTokens > options.contextWindow) {
      const reason = `prompt is too long: ${promptTokens} tokens > ${options.contextWindow} maximum`;
      rejected.push({ body, reason });
      sendError(res, 400, "invalid_request_error", reason);
      return;
    }
    const request = { headers, body: body as Record<string, unknown> };
    const index = requests.length;
    requests.push(request);
    const step = stepFor(request, index);
    if (step.delayMs) await sleep(step.delayMs);
    if ("error" in step) {
      const extra: Record<string, string> = { ...step.error.headers, ...(step.error.retryAfterSeconds === undefined ? {} : { "retry-after": String(step.error.retryAfterSeconds) }) };
      sendError(res, step.error.status, step.error.type, step.error.message, extra);
      return;
    }
    if ("raw" in step) {
      res.writeHead(step.raw.status, { "content-type": step.raw.contentType });
      res.end(step.raw.body);
      return;
    }
    if ("streamError" in step || "hangUp" in step) {
      const text = "streamError" in step ? step.streamError.partialText : step.hangUp.partialText;
      const partial = messageOf({ content: [{ type: "text", text: text ?? "" }] }, String(request.body.model));
      // Everything up to the text block's deltas, then the error in the API's SSE shape, or nothing.
      const frames = sseFramesOf(partial).filter((f) => !/^event: (content_block_stop|message_delta|message_stop)/.test(f));
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": "req_fake" });
      for (const sse of frames) res.write(sse);
      if ("hangUp" in step) {
        await sleep(20);
        res.socket?.destroy();
        return;
      }
      res.end(`event: error\ndata: ${JSON.stringify({ type: "error", error: { type: step.streamError.type, message: step.streamError.message } })}\n\n`);
      return;
    }
    const model = String(request.body.model);
    const conversation = conversationOf(request.body);
    const render = { mode: thinkingModeOf(request.body), sign: (full: string, shown: string) => signer.sign(model, conversation, full, shown) };
    const message = messageOf(step.reply, model, render, options.usageFromPrompt ? promptTokens : 100);
    signer.remember(conversation, message.content);
    if (request.body.stream !== true) {
      res.writeHead(200, { "content-type": "application/json", "request-id": "req_fake" });
      res.end(JSON.stringify(message));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": "req_fake" });
    for (const sse of sseFramesOf(message)) {
      if (res.destroyed) return;
      res.write(sse);
    }
    res.end();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, "api_error", `fake model failed: ${String(err)}`);
      else res.destroy();
    });
  });

  if ("socketPath" in options.listen) {
    const socketPath = options.listen.socketPath;
    await rm(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, resolve);
    });
    // A container's non-root user connects too: connecting needs write permission on the socket.
    await chmod(socketPath, 0o666);
    return { socketPath, requests, rejected, close: () => closeServer(server) };
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, rejected, close: () => closeServer(server) };
}

function closeServer(server: ReturnType<typeof createServer>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
