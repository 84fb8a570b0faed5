/**
 * How a TaskRoom's record moves a row of the Account's task index (internal to edge/account/).
 *
 * The room owns the task's status; the row's status is a projection of it. The queue runs
 * ahead of the room in one place only: it marks a row `assigned` before it asks the room to
 * assign (so no second dispatch hands it out), and reads the room's record back when that
 * fails. So a routine report moves a row only to running, waiting or a terminal status; a
 * record the Account read back on purpose (`authoritative`) decides every status. Reports
 * that arrive out of order (a lower `lastSeq`) are dropped, and a terminal row never moves again.
 */
import { type Task, isTerminal } from "../../shared/index.ts";
import { HOLDING_STATUSES, type TaskRow } from "./store.ts";

export type Fold = {
  next: TaskRow;
  /** A runner slot was freed or the task is queued: dispatch may have work. */
  dispatch: boolean;
  /** Why the row's runner must drop the task, when it must. */
  revoke: string | null;
};

export function foldRoomTask(row: TaskRow, task: Task, authoritative: boolean): Fold | null {
  if (!authoritative && task.lastSeq < row.lastSeq) return null;
  const next: TaskRow = { ...row, lastSeq: Math.max(row.lastSeq, task.lastSeq), task: { ...row.task, ...task } };
  const roomOwned = task.status === "running" || task.status === "waiting" || isTerminal(task.status);
  if (!isTerminal(row.status) && (roomOwned || authoritative)) {
    next.status = task.status;
    next.runnerID = task.status === "queued" ? null : (task.runnerID ?? row.runnerID);
    if (task.status === "queued") next.accepted = false;
    if (task.status !== "queued" && task.status !== "assigned") next.accepted = true;
    // Read back after a requeue the room refused: the runner attached, so it has the task.
    if (task.status === "assigned" && authoritative && row.acceptDeadline === null) next.accepted = true;
    if (next.status !== "assigned" || next.accepted) next.acceptDeadline = null;
  }
  const freed = HOLDING_STATUSES.includes(row.status) && !HOLDING_STATUSES.includes(next.status);
  const unstarted = row.status === "assigned" && !row.accepted;
  const revoke = freed && row.runnerID !== null && isTerminal(next.status) && (unstarted || next.status === "lost") ? `task is ${next.status}` : null;
  return { next, dispatch: freed || next.status === "queued", revoke };
}
