/**
 * Internal to the TaskRoom: what to do with runner `events` batches, decided before any
 * write, and how each accepted event changes the task record.
 *
 * A batch is refused whole (nothing stored) when any event is malformed for the log: data
 * over `LIMITS.maxEventDataBytes`, a `ts` that is not a date, a status a runner may not set.
 * Otherwise it is walked in order against the highest stored `rseq` of the epoch: repeats are
 * dropped, the next counter is taken, a change after a terminal status stops the walk (what
 * came before is stored, the stop is answered with an error frame).
 *
 * A batch that starts beyond the next counter is held, not refused, and stored as soon as the
 * gap fills: the runner sends batches without waiting for acks, and a socket's messages can
 * reach the handler out of order (the vitest pool's Durable Object wrapper awaits a module
 * import before each `webSocketMessage`, which reverses runs of queued frames). The hold is
 * bounded and in memory; when it overflows, the room answers an error frame and closes the
 * socket so the runner attaches again and resends after `ackedRseq`.
 */
import {
  ErrorCode,
  LIMITS,
  RUNNER_STATUSES,
  addUsage,
  errorFrameOf,
  isTerminal,
  type CallUsage,
  type ErrorFrame,
  type RunnerEvent,
  type Task,
  type TaskStatus,
} from "../../shared/index.ts";

/** A runner event ready for the log. */
export type PreparedEvent = { rseq: number; ts: string; type: string; data: Record<string, unknown>; dataJSON: string };

const encoder = new TextEncoder();

/** Checks every event of a batch; one bad event refuses the whole batch. */
export function prepareBatch(taskID: string, events: readonly RunnerEvent[]): { ok: false; error: ErrorFrame } | { ok: true; events: PreparedEvent[] } {
  const prepared: PreparedEvent[] = [];
  for (const event of events) {
    const dataJSON = JSON.stringify(event.data);
    const bytes = encoder.encode(dataJSON).byteLength;
    if (bytes > LIMITS.maxEventDataBytes) {
      return refuse(ErrorCode.PayloadTooLarge, `event rseq ${event.rseq} has ${bytes} bytes of data, over the ${LIMITS.maxEventDataBytes} byte limit`, taskID);
    }
    const time = Date.parse(event.ts);
    if (Number.isNaN(time)) {
      return refuse(ErrorCode.InvalidFrame, `event rseq ${event.rseq} has a ts that is not a date`, taskID);
    }
    if (event.type === "status" && !RUNNER_STATUSES.includes(event.data.status)) {
      return refuse(ErrorCode.InvalidFrame, `event rseq ${event.rseq}: a runner may not set status ${event.data.status}`, taskID);
    }
    prepared.push({ rseq: event.rseq, ts: new Date(time).toISOString(), type: event.type, data: event.data, dataJSON });
  }
  return { ok: true, events: prepared };
}

function refuse(code: ErrorCode, message: string, taskID: string): { ok: false; error: ErrorFrame } {
  return { ok: false, error: errorFrameOf(code, message, taskID) };
}

/** The outcome of walking prepared events and any held ones against the stored counter. */
export type Walk = {
  accept: PreparedEvent[];
  /** The highest `rseq` stored once `accept` is written. */
  maxRseq: number;
  /** Events still beyond a gap, to hold. */
  waiting: PreparedEvent[][];
  stop: ErrorFrame | null;
};

/**
 * Takes every event that continues the counter from `storedMaxRseq`, from `frames` in any
 * order, until no frame makes progress; what lies beyond a gap is left waiting.
 */
export function walkFrames(taskID: string, frames: PreparedEvent[][], storedMaxRseq: number, status: TaskStatus): Walk {
  const accept: PreparedEvent[] = [];
  let expected = storedMaxRseq + 1;
  let current = status;
  let pending = [...frames].sort((a, b) => (a[0]?.rseq ?? 0) - (b[0]?.rseq ?? 0));
  let progress = true;
  while (progress) {
    progress = false;
    const waiting: PreparedEvent[][] = [];
    for (const frame of pending) {
      let i = 0;
      for (; i < frame.length; i++) {
        const event = frame[i]!;
        if (event.rseq < expected) continue;
        if (event.rseq > expected) break;
        if (isTerminal(current)) {
          const stop = errorFrameOf(ErrorCode.TaskFinished, `the task is ${current}; event rseq ${event.rseq} is refused`, taskID);
          return { accept, maxRseq: expected - 1, waiting: [], stop };
        }
        if (event.type === "status") current = event.data.status as TaskStatus;
        accept.push(event);
        expected += 1;
        progress = true;
      }
      if (i < frame.length) waiting.push(frame.slice(i));
    }
    pending = waiting;
  }
  return { accept, maxRseq: expected - 1, waiting: pending, stop: null };
}

/** Frames held beyond a gap, for one epoch at a time, bounded by count and bytes. */
export class HeldFrames {
  static readonly MAX_FRAMES = 64;
  static readonly MAX_EVENTS = 40 * LIMITS.maxEventsPerBatch;
  static readonly MAX_BYTES = 16 * 1024 * 1024;
  private epoch = 0;
  private frames: PreparedEvent[][] = [];

  /** Takes out the frames held for `epoch` (those of another epoch are dropped). */
  take(epoch: number): PreparedEvent[][] {
    const frames = this.epoch === epoch ? this.frames : [];
    this.frames = [];
    return frames;
  }

  /** Holds `frames` for `epoch`; false (and nothing held) when they are over the bound. */
  hold(epoch: number, frames: PreparedEvent[][]): boolean {
    const events = frames.reduce((n, f) => n + f.length, 0);
    const bytes = frames.reduce((n, f) => f.reduce((m, e) => m + e.dataJSON.length, n), 0);
    const fits = frames.length <= HeldFrames.MAX_FRAMES && events <= HeldFrames.MAX_EVENTS && bytes <= HeldFrames.MAX_BYTES;
    this.epoch = epoch;
    this.frames = fits ? frames : [];
    return this.frames.length === frames.length;
  }

  clear(): void {
    this.frames = [];
  }
}

/** What an event changed that the Account's index shows: the status, or usage, egress totals and diff. */
export type TaskChange = { status: boolean; summary: boolean };

/** Folds one accepted runner event into the task record (in place); says what changed. */
export function applyRunnerEvent(task: Task, event: PreparedEvent, change: TaskChange): void {
  const data = event.data;
  if (event.type === "status") {
    task.status = data.status as TaskStatus;
    task.statusReason = typeof data.reason === "string" ? data.reason : null;
    change.status = true;
  } else if (event.type === "usage") {
    task.usage = addUsage(task.usage, data as CallUsage);
    change.summary = true;
  } else if (event.type === "egress") {
    const egress = data as { allowed: boolean; bytes: number };
    const totals = task.egress ?? { allowed: 0, denied: 0, bytes: 0 };
    task.egress = {
      allowed: totals.allowed + (egress.allowed ? 1 : 0),
      denied: totals.denied + (egress.allowed ? 0 : 1),
      bytes: totals.bytes + egress.bytes,
    };
    change.summary = true;
  } else if (event.type === "diff") {
    const diff = data as { files: number; insertions: number; deletions: number; branch?: string };
    task.diff = { files: diff.files, insertions: diff.insertions, deletions: diff.deletions };
    if (diff.branch !== undefined) task.branch = diff.branch;
    change.summary = true;
  }
}
