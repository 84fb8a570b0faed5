/**
 * Internal to the TaskRoom: what the room does when the lease holder goes silent past its
 * lease and when it is heard from again (lease.ts has the rules). Both are one transaction
 * with a `log` event from the edge, so a viewer sees them in the task's story; the task
 * record's `statusReason` says "unreachable" meanwhile, and the Account's index hears of it
 * at once. The task's status does not change: it is not over.
 */
import { type Lease, type RoomRecord } from "./store.ts";
import { unreachableReason } from "./lease.ts";
import type { RoomState } from "./room-state.ts";

/** The holder's lease ran out: the task waits for it, marked unreachable. */
export function markUnreachable(state: RoomState, room: RoomRecord, lease: Lease, now: number): void {
  const next: Lease = { ...lease, unreachableSince: now };
  const reason = unreachableReason(next);
  state.commit(() => {
    room.task.statusReason = reason;
    state.log.appendEdge(room.task, "log", { level: "warn", message: reason });
    state.setLease(next);
  });
  state.report(true);
}

/** The unreachable holder was heard from: `next` is its renewed lease. */
export function markReachable(state: RoomState, room: RoomRecord, lease: Lease, next: Lease, now: number): void {
  const away = Math.round((now - (lease.expiresAt - lease.seconds * 1000)) / 1000);
  state.commit(() => {
    room.task.statusReason = null;
    state.log.appendEdge(room.task, "log", { level: "info", message: `runner ${lease.runnerID} is back after ${away} s without a word: the task carries on` });
    state.setLease(next);
  });
  state.report(true);
}
