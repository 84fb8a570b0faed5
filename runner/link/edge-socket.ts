/**
 * One outbound WebSocket to the edge that keeps itself connected: it dials with the runner
 * credential, reconnects with full-jitter backoff after any drop, sends `PING_TEXT` every
 * heartbeat interval (the edge answers `pong`) and tears down a link that stayed silent for
 * `SILENT_HEARTBEATS` intervals (a half-open TCP connection never reports a close by itself).
 * A refused credential (HTTP 401/403 at the upgrade, or `CloseCode.Revoked`) is fatal: the
 * socket stops and says why. Once the owner says the edge answered (`answered`), the next
 * drop starts the backoff over, within its dial budget (shared/backoff.ts).
 *
 * The owner speaks the protocol: `Up` is the union of frames it sends, `opened` is the moment
 * to say hello/attach, `message` receives raw frames, `heartbeat` runs every interval while open.
 */
import type { Logger } from "pino";
import WebSocket from "ws";
import { LIMITS } from "../../shared/limits.ts";
import { CloseCode, HEARTBEAT_SECONDS, PING_TEXT, SILENT_HEARTBEATS } from "../../shared/sockets.ts";
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from "../../shared/backoff.ts";

export interface EdgeSocketHandlers {
  opened(): void;
  message(text: string): void;
  heartbeat?(): void;
  closed?(code: number, reason: string): void;
  /** The edge refused the credential; the socket will not reconnect. */
  fatal(reason: string): void;
}

export interface EdgeSocketOptions {
  url: string;
  credential: string;
  logger: Logger;
  heartbeatMs?: number;
  backoff?: BackoffOptions;
  /** How long a connection attempt may take before it counts as failed. */
  connectTimeoutMs?: number;
  /** Close codes after which the socket stops for good (default: `CloseCode.Revoked`, the credential is void). */
  fatalCloseCodes?: readonly number[];
}

export type SocketState = "connecting" | "open" | "waiting" | "stopped";

export class EdgeSocket<Up> {
  private ws: WebSocket | undefined;
  private state: SocketState = "waiting";
  private readonly backoff: Backoff;
  private heartbeatMs: number;
  private openedAt = 0;
  private lastHeard = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private connects = 0;

  constructor(
    private readonly opts: EdgeSocketOptions,
    private readonly handlers: EdgeSocketHandlers,
  ) {
    this.backoff = new Backoff(opts.backoff ?? DEFAULT_BACKOFF);
    this.heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_SECONDS * 1000;
  }

  get status(): SocketState {
    return this.state;
  }

  /** Connections made so far, the first one included. */
  get connections(): number {
    return this.connects;
  }

  start(): void {
    if (this.state === "stopped" || this.ws) return;
    this.dial();
  }

  /** Changes the heartbeat interval (the edge's `welcome` says how often). */
  setHeartbeat(ms: number): void {
    this.heartbeatMs = ms;
    if (this.state === "open") this.armHeartbeat();
  }

  /** Sends one frame if the socket is open; false when it is not (the journal keeps the data). */
  send(frame: Up): boolean {
    if (this.state !== "open" || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** The edge answered on this connection at the protocol's level: a later drop retries from the shortest delay. */
  answered(): void {
    this.backoff.answered();
  }

  /** Bytes queued in the socket but not yet written out. */
  get buffered(): number {
    return this.ws?.bufferedAmount ?? 0;
  }

  /** Closes for good and waits for the close handshake (bounded). */
  async stop(code: number = CloseCode.Normal, reason = "runner stopping"): Promise<void> {
    this.state = "stopped";
    clearTimeout(this.retryTimer);
    clearInterval(this.beatTimer);
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(code, reason);
    });
  }

  /** Drops the current connection as if the network failed; it reconnects by itself. */
  drop(): void {
    this.ws?.terminate();
  }

  private dial(): void {
    this.state = "connecting";
    const log = this.opts.logger;
    const ws = new WebSocket(this.opts.url, {
      headers: { Authorization: `Bearer ${this.opts.credential}` },
      maxPayload: LIMITS.maxEdgeFrameBytes,
      // Frames go as they are: with permessage-deflate, ws deflates and inflates every frame
      // on libuv's thread pool (the edge keeps the context, so no size threshold applies),
      // two thread hops on each event's send and each ack, for frames of a few hundred bytes.
      perMessageDeflate: false,
      handshakeTimeout: this.opts.connectTimeoutMs ?? 15_000,
    });
    this.ws = ws;
    let fatal: string | undefined;

    ws.on("unexpected-response", (_req, res) => {
      const status = res.statusCode ?? 0;
      if (status === 401 || status === 403) fatal = `the edge refused the runner credential (HTTP ${status})`;
      log.warn({ status, url: this.opts.url }, "edge refused the socket upgrade");
      res.resume();
      ws.terminate();
    });
    ws.on("open", () => {
      this.state = "open";
      this.connects += 1;
      this.openedAt = Date.now();
      this.lastHeard = this.openedAt;
      this.armHeartbeat();
      this.safely("opened", () => this.handlers.opened());
    });
    ws.on("message", (data, isBinary) => {
      this.lastHeard = Date.now();
      const text = isBinary ? Buffer.from(data as Buffer).toString("utf8") : data.toString();
      this.safely("message", () => this.handlers.message(text));
    });
    ws.on("pong", () => {
      this.lastHeard = Date.now();
    });
    ws.on("error", (err) => {
      log.debug({ err: err.message, url: this.opts.url }, "edge socket error");
    });
    ws.on("close", (code, reasonBuf) => {
      const reason = reasonBuf.toString();
      clearInterval(this.beatTimer);
      if (this.ws === ws) this.ws = undefined;
      const wasOpen = this.openedAt > 0;
      if (wasOpen) this.backoff.connectionLasted(Date.now() - this.openedAt);
      this.openedAt = 0;
      if (code === CloseCode.Revoked && !this.opts.fatalCloseCodes) {
        fatal = `the edge revoked the runner credential (close ${code}${reason ? `: ${reason}` : ""})`;
      } else if (this.opts.fatalCloseCodes?.includes(code)) {
        fatal = `the edge closed the socket for good (close ${code}${reason ? `: ${reason}` : ""})`;
      }
      if (this.state === "stopped") return;
      this.safely("closed", () => this.handlers.closed?.(code, reason));
      if (fatal) {
        this.state = "stopped";
        this.safely("fatal", () => this.handlers.fatal(fatal!));
        return;
      }
      this.state = "waiting";
      const delay = this.backoff.next();
      log.info({ code, reason, retryInMs: delay, url: this.opts.url }, wasOpen ? "edge socket closed, reconnecting" : "edge unreachable, retrying");
      this.retryTimer = setTimeout(() => this.dial(), delay);
    });
  }

  private armHeartbeat(): void {
    clearInterval(this.beatTimer);
    this.beatTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || this.state !== "open") return;
      if (Date.now() - this.lastHeard > SILENT_HEARTBEATS * this.heartbeatMs) {
        this.opts.logger.warn({ silentMs: Date.now() - this.lastHeard, url: this.opts.url }, "edge socket silent, reconnecting");
        ws.terminate();
        return;
      }
      // The edge's Durable Objects answer this exact text with a pong without waking up.
      ws.send(PING_TEXT);
      this.safely("heartbeat", () => this.handlers.heartbeat?.());
    }, this.heartbeatMs);
    this.beatTimer.unref();
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger.error({ err, handler: what, url: this.opts.url }, "edge socket handler failed");
    }
  }
}
