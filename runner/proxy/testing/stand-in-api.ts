/**
 * Internal, for the model proxy's tests: a stand-in Messages API on 127.0.0.1 and a client
 * that calls a task's proxy socket.
 *
 * The stand-in answers JSON, or SSE when the request says `stream`. Usage honours
 * `max_tokens` (output is `min(max_tokens, 500)` for JSON, `min(max_tokens, 50)` for SSE); input
 * is 1000 tokens (JSON) or 100 + 10 cache writes + 20 cache reads (SSE). `metadata.user_id`
 * picks a misbehaviour: `overloaded` (529), `echo` (repeats the request headers, key included),
 * `split` (the key split across two chunks), `hold` (an SSE stream held after its first delta
 * until released), `cut` (an SSE stream whose connection breaks after its first delta),
 * `stall` (no answer at all until released). `onRequest` hears of each request as it arrives,
 * `nextHangUp` resolves when a caller (the proxy) breaks off a request before its answer ended.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ProxyRegistration } from "../../ports.ts";

export interface Seen {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, any>;
}

export function startStandInAPI() {
  const seen: Seen[] = [];
  const releases: (() => void)[] = [];
  const listeners: ((seen: Seen) => void)[] = [];
  const hangUps: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    res.on("close", () => {
      if (!res.writableFinished) hangUps.shift()?.();
    });
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, any>;
      const entry = { path: req.url ?? "", headers: req.headers, body };
      seen.push(entry);
      for (const listener of listeners) listener(entry);
      const model = String(body.model ?? "none");
      const mode = body.metadata?.user_id;
      const maxTokens = typeof body.max_tokens === "number" ? body.max_tokens : 4096;
      if (req.url?.startsWith("/v1/messages/count_tokens")) {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ input_tokens: 42 }));
      } else if (mode === "overloaded") {
        res.writeHead(529, { "content-type": "application/json" }).end(JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }));
      } else if (mode === "echo") {
        res.writeHead(200, { "content-type": "application/json", "x-echo": String(req.headers["x-api-key"]) });
        res.end(JSON.stringify({ headers: req.headers }));
      } else if (mode === "split") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        const key = String(req.headers["x-api-key"]);
        res.write(`data: {"leak":"${key.slice(0, 10)}`);
        setTimeout(() => res.end(`${key.slice(10)}"}\n\n`), 20);
      } else if (mode === "stall") {
        releases.push(() => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ model, usage: { input_tokens: 1, output_tokens: 1 } })));
      } else if (body.stream) {
        res.writeHead(200, { "content-type": "text/event-stream", "request-id": "req_1" });
        const usage = { input_tokens: 100, cache_creation_input_tokens: 10, cache_read_input_tokens: 20, output_tokens: 1 };
        res.write(`event: message_start\ndata: ${JSON.stringify({ type: "message_start", message: { model, usage } })}\n\n`);
        res.write(`event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n`);
        const finish = () => {
          res.write(`event: message_delta\ndata: ${JSON.stringify({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: Math.min(maxTokens, 50) } })}\n\n`);
          res.end(`event: message_stop\ndata: {"type":"message_stop"}\n\n`);
        };
        if (mode === "hold") releases.push(finish);
        else if (mode === "cut") setTimeout(() => res.destroy(), 20);
        else finish();
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "msg_1", model, usage: { input_tokens: 1000, output_tokens: Math.min(maxTokens, 500) } }));
      }
    });
  });
  return {
    seen,
    release: () => releases.shift()?.(),
    releaseAll: () => releases.splice(0).forEach((finish) => finish()),
    onRequest: (listener: (seen: Seen) => void) => listeners.push(listener),
    nextHangUp: () => new Promise<void>((resolve) => hangUps.push(resolve)),
    listen: () => new Promise<string>((resolve) => server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`))),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export type StandInAPI = ReturnType<typeof startStandInAPI>;

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface CallOptions {
  path?: string;
  method?: string;
  token?: string | null;
  bearer?: boolean;
  body?: unknown;
  raw?: string | Buffer;
  headers?: Record<string, string>;
  onData?: (text: string, req: http.ClientRequest) => void;
  /** Breaks the call off from the client's side; the reply then has status 0 if none came. */
  signal?: AbortSignal;
}

export const DEFAULT_BODY = { model: "claude-sonnet-4-5", max_tokens: 1000, messages: [] };

/** One call to the task's proxy; a call the client itself breaks off resolves with what it got. */
export function callProxy(reg: ProxyRegistration, opts: CallOptions = {}): Promise<Reply> {
  const token = opts.token === undefined ? reg.token : opts.token;
  const headers: Record<string, string> = { "content-type": "application/json", "anthropic-version": "2023-06-01", ...opts.headers };
  if (token !== null) {
    if (opts.bearer) headers.authorization = `Bearer ${token}`;
    else headers["x-api-key"] = token;
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: reg.socketPath, path: opts.path ?? "/v1/messages", method: opts.method ?? "POST", headers, ...(opts.signal ? { signal: opts.signal } : {}) }, (res) => {
      let body = "";
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
        opts.onData?.(c, req);
      });
      res.on("end", done);
      res.on("close", done);
    });
    req.on("error", (err) => (req.destroyed ? resolve({ status: 0, headers: {}, body: "" }) : reject(err)));
    // The proxy closes idle keep-alive sockets on unregister; a late EPIPE there is no result.
    req.on("socket", (socket) => socket.on("error", () => {}));
    if (opts.method === "GET") req.end();
    else req.end(opts.raw ?? JSON.stringify(opts.body ?? DEFAULT_BODY));
  });
}
