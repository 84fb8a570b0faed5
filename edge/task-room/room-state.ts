/**
 * Internal to the TaskRoom: its record in memory and in SQLite, kept in step.
 *
 * The record is loaded once per wake-up. Writes go in one transaction with the log events
 * they append (which then fan out); a failed transaction drops the in-memory record so it
 * is read again. The lease's expiry (then its grace; or an open approval's expiry, when sooner) is the room's alarm, and status changes (and usage, at
 * most every few seconds) reach the Account's index through the reporter.
 */
import type { PushReason } from "../push/notice.ts";
import { AccountReporter } from "./account-reporter.ts";
import { RoomApprovals } from "./approvals.ts";
import { renewed } from "./lease.ts";
import { markReachable } from "./reachability.ts";
import { TaskLog } from "./log.ts";
import { TaskRoomStore, type Lease, type RoomRecord } from "./store.ts";

export class RoomState {
  readonly store: TaskRoomStore;
  readonly log: TaskLog;
  readonly approvals: RoomApprovals;
  private readonly account: AccountReporter;
  /** The room row; `undefined` until read. */
  private record: RoomRecord | null | undefined;

  constructor(
    private readonly ctx: DurableObjectState,
    env: Env,
  ) {
    this.store = new TaskRoomStore(ctx.storage.sql);
    this.log = new TaskLog(ctx, this.store);
    this.approvals = new RoomApprovals(ctx.storage.sql, this.store, this.log);
    this.account = new AccountReporter(env, ctx);
  }

  load(): RoomRecord | null {
    if (this.record === undefined) this.record = this.store.loadRoom();
    return this.record;
  }

  /** The room if it belongs to `accountID`; another account sees nothing. */
  of(accountID: string): RoomRecord | null {
    const room = this.load();
    return room && room.accountID === accountID ? room : null;
  }

  /** The task id, for logs, when the record is in memory. */
  get taskID(): string | undefined {
    return this.record?.task.id;
  }

  /** Writes a new room's row and its first event (`status: queued`) as one transaction. */
  insert(record: RoomRecord): void {
    this.commit(() => {
      this.store.insertRoom(record.accountID, record.task);
      this.record = record;
      this.log.appendEdge(record.task, "status", { status: "queued" });
    });
  }

  /** Writes the row of an imported record, whose log is already stored (inside `commit`). */
  adopt(record: RoomRecord): void {
    this.store.insertRoom(record.accountID, record.task);
    this.record = record;
  }

  /** After `deleteAll`: the empty tables again, and no record. */
  forget(): void {
    this.store.createTables();
    this.approvals.createTables();
    this.record = null;
  }

  /**
   * Runs writes as one transaction and fans out the events they append. The in-memory record
   * changes with them, so when the transaction fails it is dropped and read again from SQLite.
   */
  commit(fn: () => void): void {
    try {
      this.log.commit(fn);
    } catch (err) {
      this.record = undefined;
      throw err;
    }
  }

  setLease(lease: Lease | null): void {
    const room = this.record!;
    room.lease = lease;
    if (lease) room.lastEpoch = Math.max(room.lastEpoch, lease.epoch);
    this.store.saveLease(lease);
  }

  /** When the lease holder was last heard from, in memory (a hibernation forgets it; the stored lease is at most a step behind). */
  private lastHeard = 0;

  /**
   * Pushes the lease out from a sign of life at `at` (when that moves it by at least a step)
   * and its alarm with it; an unreachable holder is reachable again.
   */
  renew(lease: Lease, at = Date.now()): void {
    this.lastHeard = Math.max(this.lastHeard, at);
    const next = renewed(lease, at);
    if (!next) return;
    if (lease.unreachableSince !== null) markReachable(this, this.record!, lease, next, at);
    else this.setLease(next);
    this.scheduleAlarm(next.expiresAt);
  }

  /** The lease's end counting the contact held in memory since it was last written. */
  heardUntil(lease: Lease): number {
    return Math.max(lease.expiresAt, this.lastHeard + lease.seconds * 1000);
  }

  /** Sets the alarm for `at`, or sooner when an open approval expires sooner. */
  scheduleAlarm(at: number): void {
    this.ctx.storage.setAlarm(Math.min(at, this.approvals.nextDue() ?? at)).catch((err: unknown) => console.error({ msg: "setAlarm failed", taskID: this.taskID, err: String(err) }));
  }

  cancelAlarm(): void {
    this.ctx.storage.deleteAlarm().catch((err: unknown) => console.error({ msg: "deleteAlarm failed", taskID: this.taskID, err: String(err) }));
  }

  /** Tells the Account's index about the task: at once for a status change or a moment to push, else throttled. */
  report(statusChanged: boolean, notice?: PushReason): void {
    this.account.report(this.record!.accountID, this.record!.task, statusChanged, notice);
  }
}
