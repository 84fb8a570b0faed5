/**
 * One task's data socket to its TaskRoom: `GET {edge}/v1/runner/tasks/:id/ws`.
 *
 *   runner: attach { epoch, afterCommandSeq }      edge: attached { ackedRseq, commands }
 *   runner: events { epoch, events[rseq…] }        edge: ack { rseq }  (cumulative, after the write)
 *                                                  edge: command { command }
 *
 * Events are read from the task's `Outbox`, which holds journaled events only (the channel keeps
 * no copy): after `attached` (first connection or any reconnect) everything after `ackedRseq`
 * is sent again, then new events as `notify` reports them, and split so a frame stays under
 * the edge's frame limit. An event that finds no frame in flight goes at once; events that
 * come while a frame waits for its ack gather into the next frame, sent on that ack, at
 * `batchMaxEvents`, or after `batchMaxMs` (Nagle's rule: a lone event never waits, a stream
 * still batches). An ack drops events from the outbox. A frame the runner cannot parse is
 * logged and ignored.
 *
 * `rate_limited` means the edge dropped a frame of this socket (rate-pause.ts): sending
 * pauses, then goes on from the last ack (or says attach again, if no `attached` came), so
 * whatever was dropped is sent again and the edge drops the repeats; while the socket is
 * slow, one frame is in flight at a time.
 */
import type { Logger } from "pino";
import { ErrorCode } from "../../shared/errors.ts";
import { LIMITS } from "../../shared/limits.ts";
import { EdgeToRunnerData, parseFrame, type RunnerEvent, type RunnerToEdgeData, unhandledFrame } from "../../shared/protocol.ts";
import { DATA_FATAL_CLOSE_CODES } from "../../shared/sockets.ts";
import type { BackoffOptions } from "../../shared/backoff.ts";
import { EdgeSocket } from "./edge-socket.ts";
import { DEFAULT_RATE_PAUSE, RatePause, type RatePauseOptions } from "./rate-pause.ts";
import type { Metrics } from "../metrics.ts";
import type { DataChannel, DataChannelHandlers, Outbox } from "../ports.ts";

/** Room left in a frame for the envelope around the events. */
const FRAME_BUDGET = LIMITS.maxRunnerFrameBytes - 4096;
/** Stop writing while this much is queued in the socket; resume on the next ack. */
const MAX_BUFFERED = 8 * 1024 * 1024;

export interface TaskChannelOptions {
  edgeURL: string;
  credential: string;
  taskID: string;
  epoch: number;
  outbox: Outbox;
  logger: Logger;
  metrics?: Metrics;
  batchMaxEvents: number;
  batchMaxMs: number;
  heartbeatMs?: number;
  backoff?: BackoffOptions;
  ratePause?: RatePauseOptions;
}

const REFUSALS: string[] = [ErrorCode.StaleEpoch, ErrorCode.NotLeased, ErrorCode.TaskFinished, ErrorCode.Gone, ErrorCode.NotFound, ErrorCode.Forbidden];

export class TaskChannel implements DataChannel {
  private readonly socket: EdgeSocket<RunnerToEdgeData>;
  private attached = false;
  private sentUpTo = 0;
  private ackedUpTo = 0;
  private latest = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly pause: RatePause;

  constructor(
    private readonly opts: TaskChannelOptions,
    private readonly handlers: DataChannelHandlers,
  ) {
    this.log = opts.logger;
    this.pause = new RatePause(opts.ratePause ?? DEFAULT_RATE_PAUSE, () => this.resume());
    const url = new URL(`/v1/runner/tasks/${encodeURIComponent(opts.taskID)}/ws`, opts.edgeURL);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    this.socket = new EdgeSocket<RunnerToEdgeData>(
      {
        url: url.toString(),
        credential: opts.credential,
        logger: opts.logger,
        heartbeatMs: opts.heartbeatMs,
        backoff: opts.backoff,
        // The TaskRoom closes a runner it refuses: no lease, replaced by a newer epoch, or the task is gone.
        fatalCloseCodes: DATA_FATAL_CLOSE_CODES,
      },
      {
        opened: () => this.opened(),
        message: (text) => this.message(text),
        closed: () => {
          this.attached = false;
          this.pause.cancel();
          clearTimeout(this.timer);
          this.timer = undefined;
        },
        fatal: (reason) => handlers.fatal(reason),
      },
    );
  }

  get isAttached(): boolean {
    return this.attached;
  }

  get connections(): number {
    return this.socket.connections;
  }

  start(): void {
    this.socket.start();
  }

  setHeartbeat(ms: number): void {
    this.socket.setHeartbeat(ms);
  }

  /** New events up to `rseq` are in the outbox. */
  notify(rseq: number): void {
    this.latest = Math.max(this.latest, rseq);
    if (!this.attached || this.stopped) return;
    const inFlight = this.sentUpTo > this.ackedUpTo;
    if (!inFlight || this.latest - this.sentUpTo >= this.opts.batchMaxEvents) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.opts.batchMaxMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.pause.cancel();
    this.attached = false;
    await this.socket.stop();
  }

  /** Drops the connection as a network failure would (tests, and a stalled link). */
  drop(): void {
    this.socket.drop();
  }

  private opened(): void {
    this.socket.send({ type: "attach", taskID: this.opts.taskID, epoch: this.opts.epoch, afterCommandSeq: this.opts.outbox.lastCommandSeq });
  }

  private message(text: string): void {
    // Frames still arrive during the close handshake; after `stop` the outbox may be gone.
    if (this.stopped) return;
    const parsed = parseFrame(EdgeToRunnerData, text, LIMITS.maxEdgeFrameBytes);
    if (!parsed.ok) {
      this.log.warn({ code: parsed.error.code, problem: parsed.error.message }, "ignoring a bad frame from the edge");
      return;
    }
    const frame = parsed.value;
    const { outbox, taskID, epoch } = this.opts;
    switch (frame.type) {
      case "attached": {
        if (frame.taskID !== taskID || frame.epoch !== epoch) {
          this.log.warn({ frameTaskID: frame.taskID, frameEpoch: frame.epoch }, "ignoring `attached` for another task or epoch");
          return;
        }
        outbox.ack(frame.ackedRseq);
        this.sentUpTo = frame.ackedRseq;
        this.ackedUpTo = frame.ackedRseq;
        this.attached = true;
        this.socket.answered();
        this.handlers.acked(frame.ackedRseq);
        if (frame.commands.length > 0) this.handlers.commands([...frame.commands].sort((a, b) => a.seq - b.seq));
        this.flush();
        return;
      }
      case "ack": {
        if (frame.taskID !== taskID || frame.epoch !== epoch) return;
        const n = outbox.ack(frame.rseq);
        this.ackedUpTo = Math.max(this.ackedUpTo, frame.rseq);
        this.opts.metrics?.count("eventsAcked", n);
        this.handlers.acked(frame.rseq);
        this.flush();
        return;
      }
      case "command":
        if (frame.taskID === taskID) this.handlers.commands([frame.command]);
        return;
      case "error":
        if (frame.code === ErrorCode.RateLimited) {
          const pauseMs = this.pause.refused();
          if (pauseMs !== null) this.log.warn({ pauseMs, message: frame.message }, "the edge dropped frames over its rate: pausing, then sending them again");
        } else if (REFUSALS.includes(frame.code)) {
          this.log.warn({ code: frame.code, message: frame.message }, "the edge refuses this task's data");
          this.handlers.refused(frame.code, frame.message);
        } else {
          this.log.warn({ code: frame.code, message: frame.message }, "error frame from the edge");
        }
        return;
      case "pong":
        return;
      default:
        return unhandledFrame(frame);
    }
  }

  /** After a rate pause: everything after the last ack again, or the attach if it went unanswered. */
  private resume(): void {
    if (this.stopped) return;
    if (!this.attached) {
      this.opened();
      return;
    }
    this.sentUpTo = this.ackedUpTo;
    this.flush();
  }

  /** Sends every outbox event after what is already sent, in frames within both bounds (one frame in flight while slow). */
  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.attached || this.pause.paused) return;
    const { outbox, taskID, epoch, batchMaxEvents } = this.opts;
    while (this.socket.buffered < MAX_BUFFERED) {
      if (this.pause.slow && this.sentUpTo > this.ackedUpTo) return;
      const events = outbox.unacked(this.sentUpTo, batchMaxEvents);
      if (events.length === 0) return;
      for (const frame of splitBySize(events)) {
        if (!this.socket.send({ type: "events", taskID, epoch, events: frame })) return;
        this.sentUpTo = frame.at(-1)!.rseq;
        this.opts.metrics?.count("eventsSent", frame.length);
        if (this.pause.slow) return;
      }
    }
  }
}

/** Splits a batch so that no frame's events exceed the frame budget (one event always fits: its data is bounded). */
export function splitBySize(events: RunnerEvent[], budget = FRAME_BUDGET): RunnerEvent[][] {
  if (events.length === 1) return [events];
  const frames: RunnerEvent[][] = [];
  let current: RunnerEvent[] = [];
  let size = 0;
  for (const e of events) {
    const n = Buffer.byteLength(JSON.stringify(e)) + 1;
    if (current.length > 0 && size + n > budget) {
      frames.push(current);
      current = [];
      size = 0;
    }
    current.push(e);
    size += n;
  }
  if (current.length > 0) frames.push(current);
  return frames;
}
