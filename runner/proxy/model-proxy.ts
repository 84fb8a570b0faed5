/**
 * The model proxy: the only way a worker reaches the model, and the place its budget is kept.
 *
 * Each registered task gets its own HTTP server on a unix socket in its own directory
 * (`<socketDir>/<id>/model.sock`, the directory mounted into the container at /run/tether),
 * and its own random token. A request must carry that token (`x-api-key` or
 * `Authorization: Bearer`); only `POST /v1/messages` and `POST /v1/messages/count_tokens` are
 * forwarded, to `<upstreamURL>/v1/messages…`, with the runner's key in `x-api-key` and the
 * client's `anthropic-version` / `anthropic-beta` passed through. Responses stream back as they
 * arrive (SSE included); the usage of every message call is read on the way and reported.
 *
 * A spent budget refuses further calls with HTTP 400 `invalid_request_error`, the shape the
 * API itself uses for an exhausted credit balance: the SDK does not retry a 400 (it retries
 * 429 and 5xx), so the agent stops at once with a message that names the budget. The header
 * `x-tether-budget-exceeded: true` marks such a refusal. A turn is a call the API accepted
 * (2xx); tokens count input, output, cache writes and cache reads. At most four calls of a
 * task may be in flight; a fifth gets 429 `rate_limit_error`, which the SDK retries.
 *
 * The key never leaves this process: it is sent only upstream, masked in every response
 * byte, and never logged (errors carry only an error code).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, mkdir, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import type { Logger } from "pino";
import type { EventData } from "../../shared/events.ts";
import { BudgetMeter, type Spent, type TaskBudget } from "./budget.ts";
import { SecretRedactor, redactText } from "./redact.ts";
import { UsageReader } from "./usage.ts";
import { costOf, DEFAULT_PRICES, type PriceTable, type TokenCounts } from "./prices.ts";

export type { Spent, TaskBudget } from "./budget.ts";

/** Inside the container the task's socket directory is mounted here. */
export const CONTAINER_PROXY_DIR = "/run/tether";
const SOCKET_FILE = "model.sock";
/** The API accepts requests up to 32 MB. */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** Calls of one task in flight at once; an agent makes one at a time, so more is a flood. */
const MAX_IN_FLIGHT = 4;
/** sun_path holds 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH = 107;
const FORWARDED_PATHS = new Set(["/v1/messages", "/v1/messages/count_tokens"]);
const PASSED_REQUEST_HEADERS = ["anthropic-version", "anthropic-beta", "accept", "user-agent"];
const DROPPED_RESPONSE_HEADERS = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-connection",
  "set-cookie",
]);

export interface ModelProxyOptions {
  upstreamURL: string;
  apiKey: string;
  socketDir: string;
  prices?: PriceTable;
  logger?: Logger;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
}

export interface ProxyRegistration {
  token: string;
  /** The socket on the host. */
  socketPath: string;
  /** The directory to mount at /run/tether (holds only this task's socket). */
  proxyDir: string;
  /** The socket as the worker sees it. */
  containerSocketPath: string;
}

/** What a restarted runner passes to keep a running worker's token and its spending. */
export interface ResumeBudget {
  token?: string;
  startedAt?: number;
  spent?: Spent;
}

interface Entry {
  taskID: string;
  token: Buffer;
  meter: BudgetMeter;
  server: http.Server;
  proxyDir: string;
  refused: boolean;
  inFlight: number;
  onUsage: (u: EventData<"usage">) => void;
  onRefusal: (reason: string) => void;
  logger: Logger | undefined;
}

export class ModelProxy {
  private readonly entries = new Map<string, Entry>();
  private readonly upstream: URL;
  private readonly now: () => number;
  private readonly prices: PriceTable;

  constructor(private readonly opts: ModelProxyOptions) {
    this.upstream = new URL(opts.upstreamURL);
    if (this.upstream.protocol !== "http:" && this.upstream.protocol !== "https:") {
      throw new Error(`model proxy: upstream must be an http(s) URL, got ${this.upstream.protocol}`);
    }
    this.now = opts.now ?? Date.now;
    this.prices = opts.prices ?? DEFAULT_PRICES;
  }

  async start(): Promise<void> {
    await mkdir(this.opts.socketDir, { recursive: true, mode: 0o711 });
  }

  /** Opens the task's socket. Registering a task again replaces its server. */
  async register(
    taskID: string,
    budget: TaskBudget,
    onUsage: (u: EventData<"usage">) => void,
    onRefusal: (reason: string) => void,
    resume: ResumeBudget = {},
  ): Promise<ProxyRegistration> {
    await this.unregister(taskID);
    const proxyDir = join(this.opts.socketDir, createHash("sha256").update(taskID).digest("hex").slice(0, 16));
    const socketPath = join(proxyDir, SOCKET_FILE);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new Error(`model proxy: socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes; choose a shorter runner home`);
    }
    await mkdir(proxyDir, { recursive: true });
    await chmod(proxyDir, 0o755);
    // A socket file left by an earlier runner process refuses listen() with EADDRINUSE.
    await rm(socketPath, { force: true });
    const token = resume.token ?? `tether-proxy-${randomBytes(24).toString("base64url")}`;
    const entry: Entry = {
      taskID,
      token: Buffer.from(token),
      meter: new BudgetMeter(budget, resume.startedAt ?? this.now(), this.now, resume.spent),
      server: http.createServer(),
      proxyDir,
      refused: false,
      inFlight: 0,
      onUsage,
      onRefusal,
      logger: this.opts.logger?.child({ taskID, component: "model-proxy" }),
    };
    entry.server.on("request", (req, res) => {
      if (entry.inFlight >= MAX_IN_FLIGHT) {
        req.resume();
        return sendError(res, 429, "rate_limit_error", `at most ${MAX_IN_FLIGHT} model calls of one task may be in flight at once`);
      }
      entry.inFlight += 1;
      this.handle(entry, req, res)
        .catch((err: unknown) => {
          entry.logger?.error({ err: this.safeError(err) }, "model proxy request failed");
          if (!res.headersSent) sendError(res, 500, "api_error", "the model proxy failed");
          else res.destroy();
        })
        .finally(() => {
          entry.inFlight -= 1;
        });
    });
    await new Promise<void>((resolve, reject) => {
      entry.server.once("error", reject);
      entry.server.listen(socketPath, () => {
        entry.server.off("error", reject);
        resolve();
      });
    });
    // The worker runs as another uid; the token, not the file mode, is what guards the socket.
    await chmod(socketPath, 0o666);
    this.entries.set(taskID, entry);
    return { token, socketPath, proxyDir, containerSocketPath: `${CONTAINER_PROXY_DIR}/${SOCKET_FILE}` };
  }

  /** What the task has spent so far, for the journal. */
  spent(taskID: string): Spent | undefined {
    const entry = this.entries.get(taskID);
    return entry && { ...entry.meter.spent };
  }

  /** The task is over: its server, socket and directory go. */
  async unregister(taskID: string): Promise<void> {
    const entry = await this.shut(taskID);
    if (entry) await rm(entry.proxyDir, { recursive: true, force: true });
  }

  /**
   * The runner is going away, its workers may not: every server closes, but the task
   * directories stay. A container has its directory mounted, so the socket a restarted
   * runner makes there appears inside it; a new directory would not.
   */
  async close(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((taskID) => this.shut(taskID)));
  }

  private async shut(taskID: string): Promise<Entry | undefined> {
    const entry = this.entries.get(taskID);
    if (!entry) return undefined;
    this.entries.delete(taskID);
    entry.server.closeAllConnections();
    await new Promise<void>((resolve) => entry.server.close(() => resolve()));
    return entry;
  }

  private async handle(entry: Entry, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!authorized(entry.token, req)) {
      req.resume();
      return sendError(res, 401, "authentication_error", "invalid or missing proxy token");
    }
    const { pathname, search } = new URL(req.url ?? "/", "http://proxy");
    if (!FORWARDED_PATHS.has(pathname)) {
      req.resume();
      return sendError(res, 404, "not_found_error", `the model proxy forwards only POST /v1/messages and /v1/messages/count_tokens, not ${pathname}`);
    }
    if (req.method !== "POST") {
      req.resume();
      return sendError(res, 405, "invalid_request_error", `${req.method ?? "?"} ${pathname}: only POST is allowed`);
    }
    const isMessage = pathname === "/v1/messages";
    if (isMessage) {
      const reason = entry.meter.exceeded();
      if (reason) {
        req.resume();
        this.refuse(entry, reason);
        res.setHeader("x-tether-budget-exceeded", "true");
        return sendError(res, 400, "invalid_request_error", `Tether task budget exceeded: ${reason}`);
      }
    }
    const body = await readBody(req, MAX_REQUEST_BYTES);
    if (body === undefined) {
      return sendError(res, 413, "request_too_large", `request body is over ${MAX_REQUEST_BYTES} bytes`);
    }
    let json: unknown;
    try {
      json = JSON.parse(body.toString("utf8"));
    } catch {
      return sendError(res, 400, "invalid_request_error", "request body is not JSON");
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      return sendError(res, 400, "invalid_request_error", "request body must be a JSON object");
    }
    const request = json as Record<string, unknown>;
    let payload = body;
    if (request.model === undefined && entry.meter.budget.model) {
      payload = Buffer.from(JSON.stringify({ ...request, model: entry.meter.budget.model }));
    }
    const model = typeof request.model === "string" ? request.model : entry.meter.budget.model;
    await this.forward(entry, req, res, `${pathname}${search}`, payload, isMessage ? model ?? "unknown" : undefined);
  }

  private forward(
    entry: Entry,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    payload: Buffer,
    model: string | undefined,
  ): Promise<void> {
    const target = new URL(this.upstream.pathname.replace(/\/$/, "") + path, this.upstream);
    const headers: http.OutgoingHttpHeaders = {
      "content-type": "application/json",
      "content-length": payload.byteLength,
      "accept-encoding": "identity",
      "x-api-key": this.opts.apiKey,
    };
    for (const name of PASSED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const client = target.protocol === "https:" ? https : http;
    const started = this.now();
    return new Promise<void>((resolve) => {
      const upstreamReq = client.request(target, { method: "POST", headers }, (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name)) continue;
          out[name] = Array.isArray(value) ? value.map((v) => redactText(v, this.opts.apiKey)) : redactText(String(value), this.opts.apiKey);
        }
        res.writeHead(status, out);
        res.flushHeaders();
        // A turn is a model call the API accepted; a refused or failed one (retried by the SDK) is not.
        if (model !== undefined && status >= 200 && status < 300) entry.meter.recordCall();
        const reader = model !== undefined && status >= 200 && status < 300 ? UsageReader.forContentType(upstreamRes.headers["content-type"]) : undefined;
        const redactor = new SecretRedactor(this.opts.apiKey);
        upstreamRes.on("data", (chunk: Buffer) => {
          reader?.write(chunk);
          const safe = redactor.push(chunk);
          if (safe.length > 0) res.write(safe);
        });
        upstreamRes.on("end", () => {
          res.end(redactor.flush());
          const usage = reader?.end();
          if (usage) this.report(entry, usage.model ?? model ?? "unknown", usage.tokens);
          entry.logger?.debug({ path, status, ms: this.now() - started }, "model call");
          resolve();
        });
        upstreamRes.on("error", () => {
          res.destroy();
          resolve();
        });
      });
      upstreamReq.on("error", (err: NodeJS.ErrnoException) => {
        entry.logger?.warn({ path, code: err.code }, "model API unreachable");
        if (!res.headersSent) sendError(res, 502, "api_error", `the model API could not be reached (${err.code ?? "network error"})`);
        else res.destroy();
        resolve();
      });
      // A worker that hangs up mid-stream stops the upstream call too.
      res.on("close", () => {
        if (!res.writableFinished) upstreamReq.destroy();
      });
      upstreamReq.end(payload);
    });
  }

  private report(entry: Entry, model: string, tokens: TokenCounts): void {
    const costUSD = costOf(model, tokens, this.prices);
    // An unpriced model adds nothing to a USD budget: a task with one is refused before it starts.
    entry.meter.recordUsage(tokens.inputTokens + tokens.outputTokens + tokens.cacheWriteTokens + tokens.cacheReadTokens, costUSD ?? 0);
    entry.onUsage({ model, ...tokens, costUSD });
  }

  private refuse(entry: Entry, reason: string): void {
    entry.logger?.info({ reason }, "model call refused: budget spent");
    if (entry.refused) return;
    entry.refused = true;
    entry.onRefusal(reason);
  }

  private safeError(err: unknown): string {
    return redactText(err instanceof Error ? err.message : String(err), this.opts.apiKey);
  }
}

function authorized(token: Buffer, req: http.IncomingMessage): boolean {
  const header = req.headers["x-api-key"];
  const bearer = req.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  const given = typeof header === "string" ? header : bearer;
  if (given === undefined) return false;
  const buf = Buffer.from(given);
  return buf.length === token.length && timingSafeEqual(buf, token);
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > max) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendError(res: http.ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ type: "error", error: { type, message } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
