/**
 * The runner's control socket to its account: `GET {edge}/v1/runner/connect`.
 *
 *   runner: hello { version, labels, capacity, tasks held, draining? }    edge: welcome { heartbeatSeconds, leaseSeconds }
 *   runner: heartbeat { tasks held }  (every heartbeatSeconds; renews the leases)
 *   edge: assign { assignment }       runner: accept | reject
 *   edge: revoke { taskID, epoch }    (the runner stops the task and forgets it)
 *
 * A bad frame is logged and ignored; `CloseCode.Revoked` or a refused upgrade is fatal.
 */
import type { Logger } from "pino";
import { LIMITS } from "../../shared/limits.ts";
import { type Assignment, EdgeToRunnerControl, type HeldTask, parseFrame, type RunnerToEdgeControl, unhandledFrame } from "../../shared/protocol.ts";
import type { BackoffOptions } from "../../shared/backoff.ts";
import { EdgeSocket } from "./edge-socket.ts";

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

  constructor(
    private readonly opts: ControlLinkOptions,
    private readonly handlers: ControlLinkHandlers,
  ) {
    const url = new URL("/v1/runner/connect", opts.edgeURL);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new EdgeSocket<RunnerToEdgeControl>(
      { url: url.toString(), credential: opts.credential, logger: opts.logger, backoff: opts.backoff },
      {
        opened: () => {
          this.welcomed = false;
          this.hello();
          handlers.connected?.(this.socket.connections);
        },
        message: (text) => this.message(text),
        heartbeat: () => this.socket.send({ type: "heartbeat", tasks: opts.held() }),
        closed: () => {
          this.welcomed = false;
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

  accept(taskID: string, epoch: number): boolean {
    return this.socket.send({ type: "accept", taskID, epoch });
  }

  reject(taskID: string, epoch: number, reason: string): boolean {
    return this.socket.send({ type: "reject", taskID, epoch, reason: reason.slice(0, 2000) });
  }

  async stop(): Promise<void> {
    await this.socket.stop();
  }

  drop(): void {
    this.socket.drop();
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
        log.warn({ code: frame.code, message: frame.message, taskID: frame.taskID }, "error frame from the edge");
        return;
      case "pong":
        return;
      default:
        return unhandledFrame(frame);
    }
  }
}
