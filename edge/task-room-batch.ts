/**
 * Internal to the TaskRoom: what to do with one runner `events` batch, decided before any
 * write, and how each accepted event changes the task record.
 *
 * A batch is refused whole (nothing stored) when any event is malformed for the log: data
 * over `LIMITS.maxEventDataBytes`, a `ts` that is not a date, a status a runner may not set.
 * Otherwise it is walked in order against the highest stored `rseq` of the epoch: repeats are
 * dropped, the next counter is taken, a gap or a change after a terminal status stops the
 * walk; what was taken before the stop is stored and the stop is answered with an error frame.
 */
import {
  ErrorCode,
  LIMITS,
  RUNNER_STATUSES,
  errorFrameOf,
  isTerminal,
  type ErrorFrame,
  type RunnerEvent,
  type Task,
  type TaskStatus,
} from "../shared/index.ts";

/** A runner event ready for the log. */
export type PreparedEvent = { rseq: number; ts: string; type: string; data: Record<string, unknown>; dataJSON: string };

export type BatchPlan =
  | { ok: false; error: ErrorFrame }
  | { ok: true; accept: PreparedEvent[]; stop: ErrorFrame | null };

const encoder = new TextEncoder();

export function planBatch(taskID: string, events: readonly RunnerEvent[], storedMaxRseq: number, status: TaskStatus): BatchPlan {
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

  const accept: PreparedEvent[] = [];
  let expected = storedMaxRseq + 1;
  let current = status;
  for (const event of prepared) {
    if (event.rseq < expected) continue;
    if (event.rseq > expected) {
      return { ok: true, accept, stop: errorFrameOf(ErrorCode.InvalidFrame, `rseq ${event.rseq} leaves a gap: the next expected is ${expected}`, taskID) };
    }
    if (isTerminal(current)) {
      return { ok: true, accept, stop: errorFrameOf(ErrorCode.TaskFinished, `the task is ${current}; event rseq ${event.rseq} is refused`, taskID) };
    }
    if (event.type === "status") current = event.data.status as TaskStatus;
    accept.push(event);
    expected += 1;
  }
  return { ok: true, accept, stop: null };
}

function refuse(code: ErrorCode, message: string, taskID: string): BatchPlan {
  return { ok: false, error: errorFrameOf(code, message, taskID) };
}

/** What an event changed that the Account's index shows: the status, or usage and diff. */
export type TaskChange = { status: boolean; summary: boolean };

/** Folds one accepted runner event into the task record (in place); says what changed. */
export function applyRunnerEvent(task: Task, event: PreparedEvent, change: TaskChange): void {
  const data = event.data;
  if (event.type === "status") {
    task.status = data.status as TaskStatus;
    task.statusReason = typeof data.reason === "string" ? data.reason : null;
    change.status = true;
  } else if (event.type === "usage") {
    const usage = data as { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; costUSD: number };
    task.usage = {
      inputTokens: task.usage.inputTokens + usage.inputTokens,
      outputTokens: task.usage.outputTokens + usage.outputTokens,
      cacheReadTokens: task.usage.cacheReadTokens + usage.cacheReadTokens,
      cacheWriteTokens: task.usage.cacheWriteTokens + usage.cacheWriteTokens,
      costUSD: task.usage.costUSD + usage.costUSD,
      modelCalls: task.usage.modelCalls + 1,
    };
    change.summary = true;
  } else if (event.type === "diff") {
    const diff = data as { files: number; insertions: number; deletions: number; branch?: string };
    task.diff = { files: diff.files, insertions: diff.insertions, deletions: diff.deletions };
    if (diff.branch !== undefined) task.branch = diff.branch;
    change.summary = true;
  }
}
