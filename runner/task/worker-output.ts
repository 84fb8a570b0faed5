/**
 * A task's worker output turned into events (internal to task/): the `WorkerSink` the sandbox
 * feeds.
 *
 * - Lines at or below the last accepted `wseq` are dropped: a re-attached container replays
 *   its output from the start. A bad line cannot be told from a replayed one by its wseq, so
 *   bad lines and stderr before the first new good line count as replay and are dropped too.
 * - A recovered worker's output may arrive before the run resumes: it waits, in order, until
 *   `release`.
 * - `usage` lines are dropped (the model proxy measures usage; the worker's count would double
 *   it); `turn.end` moves a running task to waiting; `done` and the exit go to the run.
 * - Once `mute`d (the task is gone, or the stopped worker's last words are not the task's
 *   story) lines and stderr are ignored; the exit still reaches the run. After `detach` nothing
 *   does: the next runner owns the output.
 */
import type { Logger } from "pino";
import { ErrorCode } from "../../shared/errors.ts";
import type { EventData, RunnerEventBody } from "../../shared/events.ts";
import type { Parsed, WorkerToRunner } from "../../shared/protocol.ts";
import type { ExitInfo, WorkerSink } from "../ports.ts";

/** What the run does with its worker's output. */
export interface WorkerOutputTarget {
  emit(bodies: RunnerEventBody[], opts?: { wseq?: number }): void;
  /** The agent's turn ended; true when the task was running and now waits. */
  turnEnded(): boolean;
  done(data: EventData<"done">): void;
  exited(info: ExitInfo): void;
}

/** stderr is passed on in chunks of this size, at most `MAX_STDERR_CHARS` per write. */
const STDERR_CHUNK_CHARS = 8000;
const MAX_STDERR_CHARS = 64_000;

export class WorkerOutput {
  private accepted: number;
  private replaying: boolean;
  private early: (() => void)[] | undefined;
  private muted = false;
  private detached = false;

  /** `recovering`: a worker from before a restart may be replaying; hold its output until `release`. */
  constructor(
    private readonly target: WorkerOutputTarget,
    lastWseq: number,
    recovering: boolean,
    private readonly log: Logger,
  ) {
    this.accepted = lastWseq;
    this.replaying = recovering;
    this.early = recovering ? [] : undefined;
  }

  /** The last worker line accepted (the `start` line tells a resumed worker where to go on). */
  get lastWseq(): number {
    return this.accepted;
  }

  readonly sink: WorkerSink = {
    line: (parsed, raw) => this.deliver(() => this.line(parsed, raw)),
    stderr: (text) => this.deliver(() => this.stderr(text)),
    exit: (info) => this.deliver(() => this.target.exited(info)),
  };

  /** Hands on the output that waited for the run to resume; `alive`: a worker was found. */
  release(alive: boolean): void {
    if (!alive) this.replaying = false;
    const early = this.early ?? [];
    this.early = undefined;
    for (const fn of early) fn();
  }

  mute(): void {
    this.muted = true;
  }

  detach(): void {
    this.detached = true;
  }

  private deliver(fn: () => void): void {
    if (this.detached) return;
    if (this.early) this.early.push(fn);
    else fn();
  }

  private line(parsed: Parsed<WorkerToRunner>, raw: string): void {
    if (this.muted) return;
    if (!parsed.ok) {
      if (this.replaying) return;
      this.log.warn({ problem: parsed.error.message }, "bad worker line");
      this.target.emit([{ type: "error", data: { code: ErrorCode.BadWorkerLine, message: `${parsed.error.message.slice(0, 2000)}; line: ${raw.slice(0, 500)}` } }]);
      return;
    }
    const event = parsed.value;
    if (event.wseq <= this.accepted) return;
    this.replaying = false;
    this.accepted = event.wseq;
    const bodies: RunnerEventBody[] = event.type === "usage" ? [] : [{ type: event.type, data: event.data } as RunnerEventBody];
    if (event.type === "turn.end" && this.target.turnEnded()) bodies.push({ type: "status", data: { status: "waiting" } });
    this.target.emit(bodies, { wseq: event.wseq });
    if (event.type === "done") this.target.done(event.data);
  }

  private stderr(text: string): void {
    if (this.replaying || this.muted) return;
    this.log.debug({ stderr: text.slice(0, 2000) }, "worker stderr");
    for (let i = 0; i < text.length && i < MAX_STDERR_CHARS; i += STDERR_CHUNK_CHARS) {
      this.target.emit([{ type: "log", data: { level: "warn", message: text.slice(i, i + STDERR_CHUNK_CHARS) } }]);
    }
  }
}
