/**
 * The runner's control socket to its account: `GET {edge}/v1/runner/connect`.
 *
 *   runner: hello { version, labels, capacity, tasks held, draining? }    edge: welcome { heartbeatSeconds, leaseSeconds }
 *   runner: heartbeat { tasks held }  (every heartbeatSeconds; renews the leases)
 *   edge: assign { assignment }       runner: accept | reject
 *   edge: revoke { taskID, epoch }    (the runner stops the task and forgets it)
 *
 * A bad frame is logged and ignored; `CloseCode.Revoked` or a refused upgrade is fatal.
 * `rate_limited` means the edge dropped a frame (which one it does not say; rate-pause.ts):
 * sending pauses, then the link says hello again (labels, capacity, held tasks: what any
 * hello or heartbeat said) and sends again the accepts (of tasks still held) and rejects of
 * the last `RECENT_MS`, and those asked for during the pause. Both are idempotent at the edge.
 */
import type { Logger } from "pino";
import { ErrorCode } from "../../shared/errors.ts";
import { LIMITS } from "../../shared/limits.ts";
import { type Assignment, EdgeToRunnerControl, type HeldTask, parseFrame, type RunnerToEdgeControl, unhandledFrame } from "../../shared/protocol.ts";
import type { BackoffOptions } from "../../shared/backoff.ts";
import { EdgeSocket } from "./edge-socket.ts";
import { DEFAULT_RATE_PAUSE, RatePause, type RatePauseOptions } from "./rate-pause.ts";

/** How far back an accept or reject may have been the frame the edge dropped. */
const RECENT_MS = 10_000;

type Answer = Extract<RunnerToEdgeControl, { type: "accept" | "reject" }>;

export interface ControlLinkOptions {
  edgeURL: string;
  credential: string;
  version: string;
  labels: string[];
  capacity: () => number;
  held: () => HeldTask[];
  /** Why the runner takes no new tasks, when it takes none (the edge shows it in the runner list). */
  draining: () => string | null;
  logger: Logger;
  backoff?: BackoffOptions;
  ratePause?: RatePauseOptions;
}

export interface ControlLinkHandlers {
  welcome(info: { runnerID: string; heartbeatSeconds: number; leaseSeconds: number }): void;
  assign(assignment: Assignment): void;
  revoke(taskID: string, epoch: number, reason: string): void;
  fatal(reason: string): void;
  /** Each time the socket opens (the first time included). */
  connected?(count: number): void;
  /** The socket dropped; it reconnects by itself. */
  disconnected?(): void;
}

/** The control link as the daemon reports it: `connected` once the edge said `welcome`. */
export type LinkState = "connected" | "connecting" | "disconnected" | "stopped";

export class ControlLink {
  private readonly socket: EdgeSocket<RunnerToEdgeControl>;
  private welcomed = false;
  private readonly pause: RatePause;
  /** Accepts and rejects sent (or held back by a pause) in the last RECENT_MS. */
  private recent: Array<{ at: number; frame: Answer }> = [];

  constructor(
    private readonly opts: ControlLinkOptions,
    private readonly handlers: ControlLinkHandlers,
  ) {
    const url = new URL("/v1/runner/connect", opts.edgeURL);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.pause = new RatePause(opts.ratePause ?? DEFAULT_RATE_PAUSE, () => this.resume());
    this.socket = new EdgeSocket<RunnerToEdgeControl>(
      { url: url.toString(), credential: opts.credential, logger: opts.logger, backoff: opts.backoff },
      {
        opened: () => {
          this.welcomed = false;
          this.hello();
          handlers.connected?.(this.socket.connections);
        },
        message: (text) => this.message(text),
        heartbeat: () => {
          if (!this.pause.paused) this.socket.send({ type: "heartbeat", tasks: opts.held() });
        },
        closed: () => {
          this.welcomed = false;
          this.pause.cancel();
          handlers.disconnected?.();
        },
        fatal: (reason) => handlers.fatal(reason),
      },
    );
  }

  get state(): LinkState {
    const s = this.socket.status;
    if (s === "open") return this.welcomed ? "connected" : "connecting";
    if (s === "stopped") return "stopped";
    return s === "connecting" ? "connecting" : "disconnected";
  }

  start(): void {
    this.socket.start();
  }

  /** Tells the edge again what this runner holds and can take (after a capacity change, or it starts or stops draining). */
  hello(): void {
    if (this.pause.paused) return;
    const draining = this.opts.draining();
    this.socket.send({
      type: "hello",
      version: this.opts.version,
      labels: this.opts.labels,
      capacity: this.opts.capacity(),
      tasks: this.opts.held(),
      ...(draining ? { draining: draining.slice(0, 500) } : {}),
    });
  }

  /** Sends an accept now, or when a rate pause ends; false when it did not go out now. */
  accept(taskID: string, epoch: number): boolean {
    return this.answer({ type: "accept", taskID, epoch });
  }

  /** Sends a reject now, or when a rate pause ends; false when it did not go out now. */
  reject(taskID: string, epoch: number, reason: string): boolean {
    return this.answer({ type: "reject", taskID, epoch, reason: reason.slice(0, 2000) });
  }

  async stop(): Promise<void> {
    this.pause.cancel();
    await this.socket.stop();
  }

  drop(): void {
    this.socket.drop();
  }

  private answer(frame: Answer): boolean {
    const now = Date.now();
    this.recent = this.recent.filter((r) => now - r.at < RECENT_MS);
    this.recent.push({ at: now, frame });
    return !this.pause.paused && this.socket.send(frame);
  }

  /** After a rate pause: hello, and the recent accepts of tasks still held and rejects, again. */
  private resume(): void {
    this.hello();
    const now = Date.now();
    const held = this.opts.held();
    this.recent = this.recent.filter((r) => now - r.at < RECENT_MS);
    for (const { frame } of this.recent) {
      if (frame.type === "accept" && !held.some((t) => t.taskID === frame.taskID && t.epoch === frame.epoch)) continue;
      this.socket.send(frame);
    }
  }

  private message(text: string): void {
    const parsed = parseFrame(EdgeToRunnerControl, text, LIMITS.maxEdgeFrameBytes);
    const log = this.opts.logger;
    if (!parsed.ok) {
      log.warn({ code: parsed.error.code, problem: parsed.error.message }, "ignoring a bad frame from the edge");
      return;
    }
    const frame = parsed.value;
    switch (frame.type) {
      case "welcome":
        this.welcomed = true;
        this.socket.answered();
        this.socket.setHeartbeat(frame.heartbeatSeconds * 1000);
        this.handlers.welcome({ runnerID: frame.runnerID, heartbeatSeconds: frame.heartbeatSeconds, leaseSeconds: frame.leaseSeconds });
        return;
      case "assign":
        this.handlers.assign(frame.assignment);
        return;
      case "revoke":
        this.handlers.revoke(frame.taskID, frame.epoch, frame.reason);
        return;
      case "error":
        if (frame.code === ErrorCode.RateLimited) {
          const pauseMs = this.pause.refused();
          if (pauseMs !== null) log.warn({ pauseMs, message: frame.message }, "the edge dropped control frames over its rate: pausing, then sending them again");
          return;
        }
        log.warn({ code: frame.code, message: frame.message, taskID: frame.taskID }, "error frame from the edge");
        return;
      case "pong":
        return;
      default:
        return unhandledFrame(frame);
    }
  }
}
