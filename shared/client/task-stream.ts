/**
 * A task's live event stream over `GET /v1/tasks/:id/ws?after=N`, resumed by itself.
 *
 * The contract it keeps for its listeners:
 * - every event is delivered once, in `seq` order, with no gap: events at or below the last
 *   delivered `seq` are dropped, and an event past `last + 1` (a gap) closes the socket and
 *   reconnects with `after=last`;
 * - after any drop it reconnects with full-jitter backoff (reset once a connection has
 *   stayed live for `stableAfterMs`), sooner when told with `reconnectNow()`;
 * - `state` is `live` only while a socket is open AND the edge has said `replayed`; it is
 *   `connecting` before the first replay, `reconnecting` after a drop, `offline` after
 *   `offlineAfterFailures` attempts in a row failed, `closed` after `close()`, after a fatal
 *   answer (bad token, no such task: see `error`), or when a finished task's socket ends.
 *
 * Auth rides on `Sec-WebSocket-Protocol`: `[SUBPROTOCOL, BEARER_SUBPROTOCOL_PREFIX + token]`, since browsers
 * cannot set headers on a WebSocket and a token in the URL would land in logs.
 * Needs only a WebSocket constructor (browsers, React Native, `ws` in Node).
 */
import type { Event, EventData, EventType } from "../events.ts";
import { BEARER_SUBPROTOCOL_PREFIX, CloseCode, HEARTBEAT_SECONDS, PING_TEXT, SUBPROTOCOL } from "../sockets.ts";
import { Backoff, DEFAULT_BACKOFF } from "../backoff.ts";
import type { TaskStatus } from "../task.ts";
import { isTerminal } from "../task-helpers.ts";
import type { Checks } from "./checks.ts";
import { TetherError } from "./errors.ts";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "offline" | "closed";

/** An event whose type this SDK knows, with its data checked: switch on `type` to narrow. */
export type KnownEvent = { [K in EventType]: { seq: number; ts: string; type: K; data: EventData<K> } }[EventType];

/** The part of the WebSocket API the stream uses (browser, React Native and `ws` all fit). */
export interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

const OPEN = 1;

export interface TaskStreamOptions {
  /** `ws(s)://edge/v1/tasks/:id/ws`, without the query. */
  url: string;
  token: () => string | null | undefined;
  /** How frames and events are checked (`ZOD_CHECKS` or `SHAPE_CHECKS`, see `checks.ts`). */
  checks: Checks;
  /** The highest `seq` the caller already holds (0: replay everything). */
  after?: number;
  /** Makes a socket; defaults to the global `WebSocket`. */
  socket?: SocketFactory;
  /** Run after a connection failed before going live: a fatal `TetherError` (401/403/404) stops the stream. */
  probe?: () => Promise<unknown>;
  random?: () => number;
  offlineAfterFailures?: number;
  stableAfterMs?: number;
  /** A ping goes out this often; a socket silent for two periods is taken for dead. */
  pingIntervalMs?: number;
}

export interface TaskStreamListeners {
  /** Known events, in order, each once. */
  events: (events: KnownEvent[]) => void;
  /** An event of a type this SDK does not know (or with data that does not fit it); skip it. */
  unknown: (event: Event) => void;
  state: (state: ConnectionState) => void;
  replayed: (info: { lastSeq: number; status: TaskStatus }) => void;
  error: (error: TetherError) => void;
}

type Listeners = { [K in keyof TaskStreamListeners]: Set<TaskStreamListeners[K]> };

export class TaskStream {
  #lastSeq: number;
  #state: ConnectionState = "connecting";
  #status: TaskStatus | null = null;
  #error: TetherError | null = null;
  #socket: SocketLike | null = null;
  #failures = 0;
  #liveSince = 0;
  #lastFrameAt = 0;
  #lastProgressAt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #started = false;
  readonly #options: Required<Omit<TaskStreamOptions, "probe" | "after">> & Pick<TaskStreamOptions, "probe">;
  readonly #backoff: Backoff;
  readonly #listeners: Listeners = { events: new Set(), unknown: new Set(), state: new Set(), replayed: new Set(), error: new Set() };

  constructor(options: TaskStreamOptions) {
    this.#lastSeq = options.after ?? 0;
    this.#options = {
      url: options.url,
      token: options.token,
      checks: options.checks,
      socket: options.socket ?? defaultSocket,
      probe: options.probe,
      random: options.random ?? Math.random,
      offlineAfterFailures: options.offlineAfterFailures ?? 3,
      stableAfterMs: options.stableAfterMs ?? 10_000,
      pingIntervalMs: options.pingIntervalMs ?? HEARTBEAT_SECONDS * 1000,
    };
    this.#backoff = new Backoff({ ...DEFAULT_BACKOFF, stableMs: this.#options.stableAfterMs, random: this.#options.random });
  }

  get state(): ConnectionState {
    return this.#state;
  }
  /** The highest `seq` delivered. */
  get lastSeq(): number {
    return this.#lastSeq;
  }
  /** The task's status as last heard on this stream. */
  get status(): TaskStatus | null {
    return this.#status;
  }
  /** Why the stream closed by itself, if it did. */
  get error(): TetherError | null {
    return this.#error;
  }

  on<K extends keyof TaskStreamListeners>(type: K, listener: TaskStreamListeners[K]): () => void {
    this.#listeners[type].add(listener);
    return () => this.#listeners[type].delete(listener);
  }

  start(): this {
    if (this.#started) return this;
    this.#started = true;
    this.#connect();
    return this;
  }

  /** Skips the backoff wait: drops the socket that is not live and connects now. */
  reconnectNow(): void {
    if (!this.#started || this.#state === "closed" || this.#state === "live") return;
    this.#backoff.reset();
    this.#clearRetry();
    this.#discardSocket();
    this.#connect();
  }

  close(): void {
    this.#stop(null);
  }

  #connect(): void {
    const token = this.#options.token();
    const protocols = token ? [SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}${token}`] : [SUBPROTOCOL];
    let socket: SocketLike;
    try {
      socket = this.#options.socket(`${this.#options.url}?after=${this.#lastSeq}`, protocols);
    } catch (err) {
      this.#emit("error", new TetherError(0, "network", `cannot open a socket: ${err instanceof Error ? err.message : String(err)}`));
      this.#scheduleRetry();
      return;
    }
    this.#socket = socket;
    this.#lastFrameAt = this.#lastProgressAt = Date.now();
    socket.onmessage = (ev) => {
      if (this.#socket !== socket) return;
      this.#lastFrameAt = Date.now();
      this.#onFrame(ev.data);
    };
    socket.onclose = () => this.#onDrop(socket);
    socket.onerror = () => this.#onDrop(socket);
    this.#clearWatchdog();
    this.#watchdog = setInterval(() => this.#checkAlive(socket), this.#options.pingIntervalMs);
  }

  /**
   * Drops a socket silent for two ping periods, and one that is not live yet and has had
   * nothing but pongs for as long: the runtime answers pings by itself, so pongs alone do
   * not show that the edge is replaying.
   */
  #checkAlive(socket: SocketLike): void {
    if (this.#socket !== socket) return;
    const limit = 2 * this.#options.pingIntervalMs;
    const now = Date.now();
    if (now - this.#lastFrameAt >= limit || (this.#state !== "live" && now - this.#lastProgressAt >= limit)) {
      this.#onDrop(socket);
      return;
    }
    if (socket.readyState === OPEN) socket.send(PING_TEXT);
  }

  #onFrame(data: unknown): void {
    const text = typeof data === "string" ? data : data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? decode(data) : null;
    if (text === null) return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return;
    }
    const frame = this.#options.checks.frame(json);
    if (!frame.ok) return;
    const f = frame.value;
    if (f.type !== "pong") this.#lastProgressAt = Date.now();
    switch (f.type) {
      case "event":
        this.#onEvents([f.event]);
        break;
      case "events":
        this.#onEvents(f.events);
        break;
      case "replayed":
        if (f.lastSeq > this.#lastSeq) {
          this.#onGap();
          break;
        }
        this.#status = f.status;
        this.#liveSince = Date.now();
        this.#failures = 0;
        this.#setState("live");
        this.#emit("replayed", { lastSeq: f.lastSeq, status: f.status });
        break;
      case "error": {
        const error = new TetherError(0, f.code, f.message);
        this.#emit("error", error);
        if (f.code === "unauthorized" || f.code === "not_found" || f.code === "forbidden") this.#stop(error);
        break;
      }
      case "pong":
        break;
      default:
        f satisfies never;
    }
  }

  #onEvents(events: Event[]): void {
    const known: KnownEvent[] = [];
    let gap = false;
    for (const event of events) {
      if (event.seq <= this.#lastSeq) continue;
      if (event.seq !== this.#lastSeq + 1) {
        gap = true;
        break;
      }
      this.#lastSeq = event.seq;
      const body = this.#options.checks.event({ type: event.type, data: event.data });
      if (body.ok) {
        const typed = { seq: event.seq, ts: event.ts, ...body.value } as KnownEvent;
        if (typed.type === "status") this.#status = typed.data.status;
        known.push(typed);
      } else {
        this.#flush(known);
        this.#emit("unknown", event);
      }
    }
    this.#flush(known);
    if (gap) this.#onGap();
  }

  #flush(known: KnownEvent[]): void {
    if (known.length === 0) return;
    const batch = known.splice(0, known.length);
    this.#emit("events", batch);
  }

  /** An event is missing: this socket cannot be trusted, so start over from the last seq. */
  #onGap(): void {
    if (this.#socket) this.#onDrop(this.#socket, true);
  }

  #onDrop(socket: SocketLike, gap = false): void {
    if (this.#socket !== socket || this.#state === "closed") return;
    const wasLive = this.#state === "live";
    this.#discardSocket();
    if (wasLive && !gap && isTerminal(this.#status ?? "queued")) {
      // A finished task sends nothing more: everything up to its end has been delivered.
      this.#stop(null);
      return;
    }
    if (wasLive) this.#backoff.connectionLasted(Date.now() - this.#liveSince);
    if (!wasLive) this.#failures += 1;
    const probe = this.#options.probe;
    if (!wasLive && probe) {
      this.#setState(this.#failures >= this.#options.offlineAfterFailures ? "offline" : "reconnecting");
      probe().then(
        () => this.#scheduleRetry(),
        (err: unknown) => {
          if (err instanceof TetherError && err.fatal) this.#stop(err);
          else this.#scheduleRetry();
        },
      );
      return;
    }
    this.#scheduleRetry();
  }

  #scheduleRetry(): void {
    if (this.#state === "closed" || this.#socket !== null) return;
    this.#clearRetry();
    this.#setState(this.#failures >= this.#options.offlineAfterFailures ? "offline" : "reconnecting");
    const delay = this.#backoff.next();
    this.#retryTimer = setTimeout(() => this.#connect(), delay);
  }

  #discardSocket(): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#clearWatchdog();
    if (!socket) return;
    socket.onmessage = socket.onclose = socket.onerror = socket.onopen = null;
    try {
      socket.close(CloseCode.Normal, "client reconnects");
    } catch {
      // Closing a socket that never opened throws in some runtimes; it is gone either way.
    }
  }

  #stop(error: TetherError | null): void {
    this.#clearRetry();
    this.#discardSocket();
    if (error) this.#error = error;
    this.#setState("closed");
  }

  #clearRetry(): void {
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
  }

  #clearWatchdog(): void {
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    this.#watchdog = undefined;
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emit("state", state);
  }

  #emit<K extends keyof TaskStreamListeners>(type: K, ...args: Parameters<TaskStreamListeners[K]>): void {
    for (const listener of this.#listeners[type]) {
      (listener as (...a: Parameters<TaskStreamListeners[K]>) => void)(...args);
    }
  }
}

function decode(data: ArrayBuffer | ArrayBufferView): string {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new TextDecoder().decode(bytes);
}

function defaultSocket(url: string, protocols: string[]): SocketLike {
  const WebSocketImpl = (globalThis as unknown as { WebSocket?: new (url: string, protocols: string[]) => SocketLike }).WebSocket;
  if (!WebSocketImpl) throw new Error("no global WebSocket: pass the `socket` option");
  return new WebSocketImpl(url, protocols);
}
