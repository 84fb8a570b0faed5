/**
 * Internal to the TaskRoom: the lease rules, as pure functions of the task, its lease and
 * the highest epoch the room has handed out (the fence).
 *
 * A lease runs `seconds` from the holder's last sign of life (a frame on its data socket, a
 * heartbeat through the Account, a ping). Past that the runner is unreachable: the task is
 * not over (the runner's journal keeps what it prints) and stays the holder's, and a sign of
 * life under the same `(runnerID, epoch)` makes it reachable again, its data resent from the
 * journal. Only after `graceSeconds` of silence does the task end `lost`; it is never handed
 * to another runner while the first may still run it.
 */
import { ErrorCode, RUNNER_GRACE_SECONDS, errorFrameOf, isTerminal, type ErrorFrame, type Task } from "../../shared/index.ts";
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
  // A runner that attached keeps the task until it ends or its grace runs out.
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

/** The grace of an edge: `RUNNER_GRACE_SECONDS` when it is a positive whole number, else the default. */
export function graceSecondsOf(value: string | undefined): number {
  const seconds = Number(value);
  return value !== undefined && Number.isSafeInteger(seconds) && seconds > 0 ? seconds : RUNNER_GRACE_SECONDS;
}

/** The lease pushed to `now + TTL` and reachable, or null when that moves it by less than a step and it was reachable. */
export function renewed(lease: Lease, now: number): Lease | null {
  const expiresAt = now + lease.seconds * 1000;
  const step = Math.max(1_000, lease.seconds * 1000 * LEASE_RENEW_SHARE);
  if (lease.unreachableSince === null && expiresAt - lease.expiresAt < step) return null;
  return { ...lease, expiresAt, unreachableSince: null };
}

/** When the task is lost if its runner stays silent: the last sign of life plus the grace (never less than the lease). */
export function lostAt(lease: Lease): number {
  return lease.expiresAt + (Math.max(lease.graceSeconds, lease.seconds) - lease.seconds) * 1000;
}

/** What the lease alarm does at `now`: wait for the lease, mark the runner unreachable, wait for the grace, or lose the task. */
export type LeaseStep = { kind: "wait"; until: number } | { kind: "unreachable"; until: number } | { kind: "lost" };

export function leaseStep(lease: Lease, now: number): LeaseStep {
  if (now < lease.expiresAt) return { kind: "wait", until: lease.expiresAt };
  const until = lostAt(lease);
  if (now >= until) return { kind: "lost" };
  return lease.unreachableSince === null ? { kind: "unreachable", until } : { kind: "wait", until };
}

/** No runner has taken the task up (none attached under its lease). */
export function unstarted(task: Task, lease: Lease | null): boolean {
  return task.status === "queued" || (task.status === "assigned" && !lease?.attached);
}

/**
 * A cancel ends the task at once when no runner has taken it up, or when its runner is
 * unreachable (the runner is refused when it comes back); otherwise the runner stops it.
 */
export function cancelEndsAtOnce(task: Task, lease: Lease | null): boolean {
  return unstarted(task, lease) || (lease !== null && lease.unreachableSince !== null);
}

export function unreachableReason(lease: Lease): string {
  const lost = new Date(lostAt(lease)).toISOString().slice(0, 19).replace("T", " ");
  return `runner ${lease.runnerID} unreachable (not heard from for ${lease.seconds} s): the task carries on when it is back, and is lost if it is still silent at ${lost} UTC`;
}

export function lostReason(lease: Lease): string {
  return `runner ${lease.runnerID} not heard from for ${Math.max(lease.graceSeconds, lease.seconds)} s`;
}
