/**
 * The model proxy: the only way a worker reaches the model, and the place its budget is kept.
 *
 * Each registered task gets its own HTTP server on a unix socket in its own directory
 * (`<socketDir>/<id>/model.sock`, the directory mounted into the container at /run/tether),
 * and its own random token. A request must carry that token (`x-api-key` or
 * `Authorization: Bearer`); only `POST /v1/messages` and `POST /v1/messages/count_tokens` are
 * forwarded, to `<upstreamURL>/v1/messages…`, with the runner's key in `x-api-key` and the
 * client's `anthropic-version` / `anthropic-beta` passed through, and only what
 * request-policy.ts allows (nothing that makes the provider reach the network for the agent,
 * unless the runner opts in); the rest gets a 400 that names it. Responses stream back as they
 * arrive (SSE included); the usage of every message call is read on the way and reported.
 *
 * A spent budget refuses further calls with HTTP 400 `invalid_request_error`, the shape the
 * API itself uses for an exhausted credit balance: the SDK does not retry a 400 (it retries
 * 429 and 5xx). The header `x-tether-budget-exceeded: true` marks such a refusal; the worker
 * then waits for the runner's word that the budget was raised and makes the same call again.
 * The runner hears of the first refusal after each raise (`onRefusal`, with the limit reached
 * and the budget's report), and `raise` applies higher limits. Each message call is admitted by the
 * budget before it is forwarded (its turn counted, its worst case held, its `max_tokens`
 * clamped to what is left) and charged however it ends (budget.ts). The input estimate is the
 * request's size in bytes, which no text's token count exceeds. At most four calls of a task
 * may be in flight; a fifth gets 429 `rate_limit_error`, which the SDK retries.
 *
 * The key never leaves this process: it is sent only upstream, masked in every response
 * byte, and never logged (errors carry only an error code).
 */
import { createHash, randomBytes } from "node:crypto";
import { chmod, mkdir, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import type { Logger } from "pino";
import type { EventData } from "../../shared/events.ts";
import type { ProxyPort, ProxyRegistration, ResumeBudget } from "../ports.ts";
import type { BudgetLimits } from "../../shared/budget.ts";
import { BudgetMeter, type BudgetReport, clampMaxTokens, type Reached, type Reservation, type Spent, type TaskBudget } from "./budget.ts";
import { SecretRedactor, redactText } from "./redact.ts";
import { authorized, readBody, sendError } from "./proxy-http.ts";
import { refuseBody, refuseHeaders } from "./request-policy.ts";
import { UsageReader } from "./usage.ts";
import { costOf, DEFAULT_PRICES, type PriceTable, priceOf, type TokenCounts } from "./prices.ts";

export type { BudgetReport, Reached, Spent, TaskBudget } from "./budget.ts";

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
  /** Let requests use the provider's server-side tools (see request-policy.ts); off by default. */
  serverTools?: boolean;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
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
  onRefusal: (reached: Reached, report: BudgetReport) => void;
  logger: Logger | undefined;
}

/** A message call the budget admitted: what it holds until it settles. */
interface AdmittedCall {
  model: string;
  reservation: Reservation;
}

/** How far a call got: the upstream's status, whether a connection was made, its usage so far. */
interface Ending {
  status: number | undefined;
  reached: boolean;
  reader: UsageReader | undefined;
}

export class ModelProxy implements ProxyPort {
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
    onRefusal: (reached: Reached, report: BudgetReport) => void,
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
    return { token, socketPath, proxyDir };
  }

  /** What the task has spent so far, for the journal. */
  spent(taskID: string): Spent | undefined {
    const entry = this.entries.get(taskID);
    return entry && { ...entry.meter.spent };
  }

  /**
   * Applies raised limits to a registered task (its time budget counts on from `startedAt`); the
   * next refusal is reported again. False when the task is not registered.
   */
  raise(taskID: string, limits: BudgetLimits, startedAt: number): boolean {
    const entry = this.entries.get(taskID);
    if (!entry) return false;
    entry.meter.raise(limits, startedAt - entry.meter.startedAt);
    entry.refused = false;
    return true;
  }

  /** The task's limits, and per limit what is spent and what remains. */
  report(taskID: string): BudgetReport | undefined {
    return this.entries.get(taskID)?.meter.report();
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
    const policy = { serverTools: this.opts.serverTools ?? false };
    const headerRefusal = refuseHeaders(search, req.headers["anthropic-beta"], policy);
    if (headerRefusal) {
      req.resume();
      return sendError(res, 400, "invalid_request_error", headerRefusal);
    }
    const isMessage = pathname === "/v1/messages";
    if (isMessage) {
      const reached = entry.meter.exceeded();
      if (reached) {
        req.resume();
        return this.refuse(entry, res, reached);
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
    const bodyRefusal = refuseBody(request, !isMessage, policy);
    if (bodyRefusal) return sendError(res, 400, "invalid_request_error", bodyRefusal);
    if (request.model === undefined && entry.meter.budget.model) request.model = entry.meter.budget.model;
    const model = typeof request.model === "string" ? request.model : "unknown";
    if (!isMessage) return this.forward(entry, req, res, `${pathname}${search}`, Buffer.from(JSON.stringify(request)), undefined);
    // The request as forwarded, before max_tokens is known: its size bounds the input's tokens.
    const asked = request.max_tokens;
    const inputTokens = Buffer.byteLength(JSON.stringify(request));
    const admission = entry.meter.admit({
      inputTokens,
      maxTokens: typeof asked === "number" && Number.isInteger(asked) && asked > 0 ? asked : undefined,
      price: priceOf(model, this.prices),
    });
    if (!admission.ok) return this.refuse(entry, res, { limit: admission.limit, reason: admission.reason });
    const { reservation } = admission;
    if (reservation.maxTokens !== undefined) clampMaxTokens(request, reservation.maxTokens);
    await this.forward(entry, req, res, `${pathname}${search}`, Buffer.from(JSON.stringify(request)), { model, reservation });
  }

  /**
   * Sends the request upstream and streams the answer back. A message call (`call`) settles
   * exactly once, on whichever ending comes first: the answer's end, the upstream breaking
   * off, the worker hanging up, or the upstream failing.
   */
  private forward(entry: Entry, req: http.IncomingMessage, res: http.ServerResponse, path: string, payload: Buffer, call: AdmittedCall | undefined): Promise<void> {
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
    const ending: Ending = { status: undefined, reached: false, reader: undefined };
    return new Promise<void>((resolve) => {
      let settled = false;
      const settle = () => {
        if (settled) return;
        settled = true;
        if (call) this.charge(entry, call, ending);
        entry.logger?.debug({ path, status: ending.status, ms: this.now() - started }, "model call");
        resolve();
      };
      const upstreamReq = client.request(target, { method: "POST", headers }, (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        ending.status = status;
        const out: http.OutgoingHttpHeaders = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name)) continue;
          out[name] = Array.isArray(value) ? value.map((v) => redactText(v, this.opts.apiKey)) : redactText(String(value), this.opts.apiKey);
        }
        res.writeHead(status, out);
        res.flushHeaders();
        if (call && status >= 200 && status < 300) ending.reader = UsageReader.forContentType(upstreamRes.headers["content-type"]);
        const redactor = new SecretRedactor(this.opts.apiKey);
        upstreamRes.on("data", (chunk: Buffer) => {
          ending.reader?.write(chunk);
          const safe = redactor.push(chunk);
          if (safe.length > 0) res.write(safe);
        });
        upstreamRes.on("end", () => {
          res.end(redactor.flush());
          settle();
        });
        upstreamRes.on("error", () => {
          res.destroy();
          settle();
        });
        upstreamRes.on("close", () => {
          if (!upstreamRes.complete) res.destroy();
          settle();
        });
      });
      upstreamReq.on("socket", (socket) => {
        if (!socket.connecting) ending.reached = true;
        else socket.once("connect", () => (ending.reached = true));
      });
      upstreamReq.on("error", (err: NodeJS.ErrnoException) => {
        entry.logger?.warn({ path, code: err.code }, "model API unreachable");
        if (!res.headersSent) sendError(res, 502, "api_error", `the model API could not be reached (${err.code ?? "network error"})`);
        else res.destroy();
        settle();
      });
      // A worker that hangs up stops the upstream call too; the call is charged as it stands.
      res.on("close", () => {
        if (res.writableFinished) return;
        upstreamReq.destroy();
        settle();
      });
      upstreamReq.end(payload);
    });
  }

  /** Charges an ended call (see budget.ts) and reports what was charged. */
  private charge(entry: Entry, call: AdmittedCall, ending: Ending): void {
    const { reservation } = call;
    const refusedUpstream = ending.status !== undefined && (ending.status < 200 || ending.status >= 300);
    if (refusedUpstream || (ending.status === undefined && !ending.reached)) {
      entry.meter.settle(reservation, { tokens: 0, costUSD: 0 }, false);
      return;
    }
    const usage = ending.reader?.end();
    let model = call.model;
    let tokens: TokenCounts;
    if (usage) {
      model = usage.model ?? model;
      // Output goes on until the API sees the hang-up: without the final count, the most it could be.
      const output = usage.complete ? usage.tokens.outputTokens : Math.max(usage.tokens.outputTokens, reservation.maxTokens ?? 0);
      tokens = { ...usage.tokens, outputTokens: output };
    } else {
      tokens = { inputTokens: 0, outputTokens: reservation.maxTokens ?? 0, cacheWriteTokens: reservation.inputTokens, cacheReadTokens: 0 };
    }
    const costUSD = costOf(model, tokens, this.prices);
    // An unpriced model adds nothing to a USD budget: a task with one is refused before it starts.
    entry.meter.settle(reservation, { tokens: tokens.inputTokens + tokens.outputTokens + tokens.cacheWriteTokens + tokens.cacheReadTokens, costUSD: costUSD ?? 0 }, true);
    entry.onUsage({ model, ...tokens, costUSD });
  }

  /** The budget's refusal: an API-shaped 400 the SDK does not retry; the runner hears of it once per raise. */
  private refuse(entry: Entry, res: http.ServerResponse, reached: Reached): void {
    entry.logger?.info({ limit: reached.limit, reason: reached.reason }, "model call refused: budget spent");
    if (!entry.refused) {
      entry.refused = true;
      entry.onRefusal(reached, entry.meter.report());
    }
    res.setHeader("x-tether-budget-exceeded", "true");
    res.setHeader("x-tether-budget-limit", reached.limit);
    sendError(res, 400, "invalid_request_error", `Tether task budget exceeded: ${reached.reason}`);
  }

  private safeError(err: unknown): string {
    return redactText(err instanceof Error ? err.message : String(err), this.opts.apiKey);
  }
}
