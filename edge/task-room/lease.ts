/**
 * Internal to the TaskRoom: the lease rules, as pure functions of the task, its lease and
 * the highest epoch the room has handed out (the fence).
 */
import { ErrorCode, errorFrameOf, isTerminal, type ErrorFrame, type Task } from "../../shared/index.ts";
import type { Lease } from "./store.ts";

/**
 * A lease is rewritten only when it moves by at least this share of its TTL (and a second),
 * so a runner's frames at a human pace do not each write a row; the contact in between is
 * held in memory and counted by the lease alarm (`RoomState.heardUntil`).
 */
export const LEASE_RENEW_SHARE = 1 / 3;

export type AssignDecision = "again" | "take" | "refuse";

/** Whether `(runnerID, epoch)` may hold the task: the same lease again, a new one, or not. */
export function decideAssign(task: Task, lease: Lease | null, lastEpoch: number, runnerID: string, epoch: number): AssignDecision {
  if (isTerminal(task.status)) return "refuse";
  if (lease && lease.runnerID === runnerID && lease.epoch === epoch) return "again";
  if (epoch <= lastEpoch) return "refuse";
  // A runner that attached keeps the task until it ends or its lease runs out.
  return task.status === "queued" || (task.status === "assigned" && !lease?.attached) ? "take" : "refuse";
}

export function holds(lease: Lease | null, runnerID: string, epoch: number | null): lease is Lease {
  return !!lease && lease.runnerID === runnerID && lease.epoch === epoch;
}

/** Why a runner frame of `(runnerID, epoch)` is refused, or null when they hold the lease. */
export function holderRefusal(taskID: string, lease: Lease | null, lastEpoch: number, runnerID: string, epoch: number): ErrorFrame | null {
  if (epoch < lastEpoch) {
    return errorFrameOf(ErrorCode.StaleEpoch, `epoch ${epoch} is over; the task is at epoch ${lastEpoch}`, taskID);
  }
  if (!holds(lease, runnerID, epoch)) {
    return errorFrameOf(ErrorCode.NotLeased, `task ${taskID} is not leased to runner ${runnerID} at epoch ${epoch}`, taskID);
  }
  return null;
}

/** The lease pushed to `now + TTL`, or null when that moves it by less than a step. */
export function renewed(lease: Lease, now: number): Lease | null {
  const expiresAt = now + lease.seconds * 1000;
  const step = Math.max(1_000, lease.seconds * 1000 * LEASE_RENEW_SHARE);
  return expiresAt - lease.expiresAt < step ? null : { ...lease, expiresAt };
}

/** A cancel ends the task at once when no runner has taken it up; otherwise the runner stops it. */
export function cancelEndsAtOnce(task: Task, lease: Lease | null): boolean {
  return task.status === "queued" || (task.status === "assigned" && !lease?.attached);
}

export function lostReason(lease: Lease): string {
  return `runner ${lease.runnerID} not heard from for ${lease.seconds} s`;
}
