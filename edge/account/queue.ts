/**
 * The Account's queue (internal to edge/account/): dispatch, the accept window, rejects,
 * requeues, and the index following the TaskRooms.
 *
 * When a task is queued or a runner gains a free slot, `dispatch` picks a fitting online
 * runner, bumps the task's epoch, tells the TaskRoom (`assign`), pushes `assign` to the
 * runner and waits ACCEPT_SECONDS for `accept` (the Account's alarm); a `reject` or a silent
 * runner puts the task back (`TaskRoom.requeue`). The row's epoch, accept deadline and
 * rejecting runner are the queue's own dispatch state; its status is a projection of the
 * room's, moved by what the room reports or answers when read back (`fold.ts`), and run
 * ahead of the room only by the `assigned` mark set before the room is asked to assign.
 */
import { ACCEPT_SECONDS, LEASE_SECONDS, type EdgeToRunnerControl, type HeldTask, type Task, type TaskStatus } from "../../shared/index.ts";
import { isTaskID } from "../auth/index.ts";
import type { TaskRoom } from "../task-room/index.ts";
import { type Candidate, pickRunner } from "./dispatch.ts";
import { foldRoomTask } from "./fold.ts";
import { type AccountStore, HOLDING_STATUSES, type RunnerRow, type TaskRow } from "./store.ts";

/** Queued tasks read at a time. */
const DISPATCH_PAGE = 100;

/** What the queue needs of the Account: its TaskRooms and its runners' control sockets. */
export type QueueLinks = {
  room(taskID: string): DurableObjectStub<TaskRoom>;
  /** Runners online that have said hello. */
  readyRunners(): RunnerRow[];
  send(runnerID: string, frame: EdgeToRunnerControl): void;
  setAlarm(at: number | null): Promise<void>;
  /** A room's record moved the row's status (push notices follow it). */
  statusMoved(before: TaskStatus, task: Task): void;
};

export class TaskQueue {
  private dispatching = false;
  private dispatchAgain = false;

  constructor(
    private readonly store: AccountStore,
    private readonly links: QueueLinks,
  ) {}

  /** Assigns queued tasks to free slots until none fits. Runs one at a time; a call meanwhile runs it again after. */
  async dispatch(): Promise<void> {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.dispatchAgain = false;
        await this.dispatchOnce();
      } while (this.dispatchAgain);
    } finally {
      this.dispatching = false;
    }
  }

  /** A runner's `accept`: the assignment is started, or the runner is told it is not current. */
  accept(runnerID: string, taskID: string, epoch: number): void {
    const row = this.store.getTask(taskID);
    if (row && row.runnerID === runnerID && row.epoch === epoch && HOLDING_STATUSES.includes(row.status)) {
      if (!row.accepted) this.store.saveTask({ ...row, accepted: true, acceptDeadline: null });
      return;
    }
    this.links.send(runnerID, { type: "revoke", taskID, epoch, reason: "this assignment is no longer current" });
  }

  async reject(runnerID: string, taskID: string, epoch: number, reason: string): Promise<void> {
    const row = this.store.getTask(taskID);
    if (!row || row.runnerID !== runnerID || row.epoch !== epoch || row.status !== "assigned") return;
    await this.requeue(row, `runner ${runnerID} rejected the task: ${reason}`, runnerID);
    await this.dispatch();
  }

  /** Assignments not accepted in time go back to the queue. Idempotent (alarms are at-least-once). */
  async expireAssignments(): Promise<void> {
    for (const row of this.store.overdueAssignments(Date.now())) {
      await this.requeue(row, `runner ${row.runnerID} did not accept the task within ${ACCEPT_SECONDS} s`, null);
    }
    await this.dispatch();
    await this.scheduleAlarm();
  }

  /**
   * A deleted runner's tasks: its unaccepted assignments go back to the queue and the rooms
   * of the tasks it held are told (`revokeRunner`: their data sockets close, the task is lost).
   */
  async releaseRunner(runnerID: string, reason: string): Promise<void> {
    for (const row of this.store.heldTasks(runnerID)) {
      if (row.status === "assigned" && !row.accepted) await this.links.room(row.id).requeue(row.epoch, reason);
      await this.links.room(row.id).revokeRunner(runnerID, reason);
      await this.refreshFromRoom(row.id, true);
    }
    await this.dispatch();
  }

  /** Heartbeat and hello: renew each held lease; a task the runner may no longer run gets `revoke`. */
  async renewHeld(runnerID: string, tasks: HeldTask[]): Promise<void> {
    await Promise.all(
      tasks.map(async ({ taskID, epoch }) => {
        const row = isTaskID(taskID) ? this.store.getTask(taskID) : null;
        const renewed = row !== null && (await this.links.room(taskID).renewLease(runnerID, epoch));
        if (!renewed) this.links.send(runnerID, { type: "revoke", taskID, epoch, reason: "the edge holds no live lease of this task for this runner" });
      }),
    );
  }

  /** A TaskRoom's report; dispatches when it freed a slot or queued the task. */
  async taskChanged(task: Task): Promise<void> {
    if (this.applyRoomTask(task, false)) await this.dispatch();
  }

  private async dispatchOnce(): Promise<void> {
    const candidates = this.candidates();
    const free = () => candidates.some((c) => c.load < c.capacity);
    // The queue is read a page at a time until no runner has a free slot, so tasks
    // nobody can take never hide the ones behind them.
    for (let page = this.store.queuedTasks(DISPATCH_PAGE); page.length > 0 && free(); page = this.nextPage(page)) {
      if (!(await this.dispatchPage(page, candidates))) return;
    }
  }

  private nextPage(page: TaskRow[]): TaskRow[] {
    const last = page[page.length - 1]!;
    return page.length < DISPATCH_PAGE ? [] : this.store.queuedTasks(DISPATCH_PAGE, { createdAt: last.task.createdAt, id: last.id });
  }

  /** Assigns what it can of one page; false when a room failed and dispatch should stop for now. */
  private async dispatchPage(page: TaskRow[], candidates: Candidate[]): Promise<boolean> {
    for (const listed of page) {
      // Read again: an earlier await may have let a cancel or another dispatch change it.
      const row = this.store.getTask(listed.id);
      if (!row || row.status !== "queued") continue;
      const pick = pickRunner(row.labels, candidates, row.rejectedBy);
      if (!pick) continue;
      const epoch = row.epoch + 1;
      // The row is marked before any await, so no other dispatch can hand it out again.
      this.store.saveTask({ ...row, status: "assigned", runnerID: pick.id, epoch, accepted: false, acceptDeadline: Date.now() + ACCEPT_SECONDS * 1000 });
      pick.load++;
      await this.scheduleAlarm();
      let assigned: boolean;
      try {
        assigned = await this.links.room(row.id).assign(pick.id, epoch, LEASE_SECONDS);
      } catch (err) {
        console.error({ msg: "TaskRoom.assign failed", taskID: row.id, err: String(err) });
        this.store.saveTask({ ...row, epoch });
        return false;
      }
      const now = this.store.getTask(row.id);
      if (!assigned) {
        pick.load--;
        await this.refreshFromRoom(row.id, true);
        continue;
      }
      if (now && now.status === "assigned" && now.epoch === epoch && now.runnerID === pick.id) {
        this.links.send(pick.id, { type: "assign", assignment: { task: now.task, epoch, leaseSeconds: LEASE_SECONDS } });
      }
    }
    return true;
  }

  /** Online runners that said hello, with their current load. */
  private candidates(): Candidate[] {
    return this.links.readyRunners().map((r) => ({ id: r.id, labels: r.labels, capacity: r.capacity, load: this.store.heldTasks(r.id).length }));
  }

  /**
   * Takes an assignment back. The row leaves the alarm's view first (no deadline), the
   * room requeues it unless the runner already attached, and the room's answer decides.
   */
  private async requeue(row: TaskRow, reason: string, rejectedBy: string | null): Promise<void> {
    this.store.saveTask({ ...row, acceptDeadline: null, rejectedBy });
    try {
      await this.links.room(row.id).requeue(row.epoch, reason);
      const task = await this.refreshFromRoom(row.id, true);
      if (task?.status === "queued" && rejectedBy === null && row.runnerID) {
        this.links.send(row.runnerID, { type: "revoke", taskID: row.id, epoch: row.epoch, reason });
      }
    } catch (err) {
      console.error({ msg: "requeue failed; the alarm retries", taskID: row.id, err: String(err) });
      const current = this.store.getTask(row.id);
      if (current && current.epoch === row.epoch && current.status === "assigned" && !current.accepted) {
        this.store.saveTask({ ...current, acceptDeadline: Date.now() + ACCEPT_SECONDS * 1000 });
      }
    }
    await this.scheduleAlarm();
  }

  private async scheduleAlarm(): Promise<void> {
    await this.links.setAlarm(this.store.nextAcceptDeadline());
  }

  /** Reads the room's record back (after a requeue or a refused assign) and folds it in. */
  private async refreshFromRoom(taskID: string, authoritative: boolean): Promise<Task | null> {
    const accountID = this.store.getMeta("accountID");
    if (!accountID) return null;
    const task = await this.links.room(taskID).getTask(accountID);
    if (task && this.applyRoomTask(task, authoritative)) await this.dispatch();
    return task;
  }

  /** Folds a room's record into the index; true when that may let dispatch do something. */
  private applyRoomTask(task: Task, authoritative: boolean): boolean {
    const row = this.store.getTask(task.id);
    if (!row) return false;
    const fold = foldRoomTask(row, task, authoritative);
    if (!fold) return false;
    this.store.saveTask(fold.next);
    if (fold.next.status !== row.status) this.links.statusMoved(row.status, fold.next.task);
    if (fold.revoke && row.runnerID) this.links.send(row.runnerID, { type: "revoke", taskID: row.id, epoch: row.epoch, reason: fold.revoke });
    return fold.dispatch;
  }
}
