/**
 * One task's row of the journal, held in memory and written through (internal to task/): a
 * run reads its own state from here, never from the database, and every change goes to the
 * journal at once, so a restarted runner finds it there. Appending events goes through here
 * too, since the journal moves the row's counters in the same transaction.
 *
 * On a full disk (`JournalSpace`) a change still holds in memory and its write waits for room:
 * the row is then written whole from memory, an ack up to the highest `rseq` acked, a removal
 * after both. An append throws; the outbox holds its events.
 *
 * The last events appended and not yet acked stay in memory too (a bounded tail), so the data
 * channel, which reads what to send from the outbox, takes a live event from there rather
 * than reading back the row it just wrote; anything older comes from the journal.
 */
import type { RunnerEventBody } from "../../shared/events.ts";
import type { RunnerEvent } from "../../shared/protocol.ts";
import type { Task } from "../../shared/task.ts";
import type { Journal, TaskMeta, TaskRow } from "./journal.ts";
import type { JournalSpace } from "./journal-space.ts";

export type TaskOutcome = NonNullable<TaskMeta["outcome"]>;

/** Events kept in memory after their append, at most: the live path sends one or a few at a time. */
export const RECENT_EVENTS = 64;

export class TaskRecord {
  private readonly row: TaskRow;
  /** The latest appended events not yet acked, consecutive `rseq`s, oldest first. */
  private recent: RunnerEvent[] = [];

  constructor(
    private readonly journal: Journal,
    row: TaskRow,
    /** Room on the journal's disk; without it a write on a full disk throws. */
    private readonly space?: JournalSpace,
  ) {
    this.row = { ...row, meta: { ...row.meta } };
  }

  get taskID(): string {
    return this.row.taskID;
  }

  get epoch(): number {
    return this.row.epoch;
  }

  get task(): Task {
    return this.row.assignment.task;
  }

  get lastCommandSeq(): number {
    return this.row.lastCommandSeq;
  }

  /** The rseq of the terminal status event, once journaled. */
  get finalRseq(): number | null {
    return this.row.finalRseq;
  }

  get meta(): Readonly<TaskMeta> {
    return this.row.meta;
  }

  update(fields: Partial<Pick<TaskRow, "status" | "containerID" | "lastCommandSeq">>): void {
    Object.assign(this.row, fields);
    this.saveRow();
  }

  /** Merges `fields` into the meta and writes it. */
  updateMeta(fields: Partial<TaskMeta>): void {
    this.row.meta = { ...this.row.meta, ...fields };
    this.saveRow();
  }

  /** Appends events to the outbox (see `Journal.append`; throws `OutboxFullError` when full). */
  append(bodies: RunnerEventBody[], opts: { wseq?: number; final?: boolean }): RunnerEvent[] {
    const events = this.journal.append(this.row.taskID, bodies, opts);
    this.row.nextRseq += events.length;
    if (opts.wseq !== undefined) this.row.lastWseq = Math.max(this.row.lastWseq, opts.wseq);
    const last = events.at(-1);
    if (opts.final && last) {
      this.row.finalRseq = last.rseq;
      this.row.status = "finished";
    }
    this.recent.push(...events);
    if (this.recent.length > RECENT_EVENTS) this.recent = this.recent.slice(-RECENT_EVENTS);
    return events;
  }

  /** Unacked events after `afterRseq`, oldest first: none past the last append, from memory when the tail holds the first. */
  unacked(afterRseq: number, limit: number): RunnerEvent[] {
    if (afterRseq >= this.row.nextRseq - 1) return [];
    const first = this.recent[0]?.rseq;
    if (first !== undefined && afterRseq >= first - 1) return this.recent.slice(afterRseq + 1 - first, afterRseq + 1 - first + limit);
    return this.journal.unacked(this.row.taskID, this.row.epoch, afterRseq, limit);
  }

  /** Drops acked events from the outbox; how many left (0 while the write waits for room). */
  ack(rseq: number): number {
    const keep = this.recent.findIndex((e) => e.rseq > rseq);
    this.recent = keep === -1 ? [] : this.recent.slice(keep);
    let n = 0;
    this.write(`ack:${this.row.taskID}`, () => (n = this.journal.ack(this.row.taskID, this.row.epoch, rseq)));
    return n;
  }

  /** The task leaves the journal with its outbox. */
  remove(): void {
    const { taskID } = this.row;
    this.write(`remove:${taskID}`, () => this.journal.removeTask(taskID));
  }

  /** Writes the row's columns a run changes, as memory holds them when the write runs. */
  private saveRow(): void {
    this.write(`row:${this.row.taskID}`, () => {
      const { status, containerID, lastCommandSeq, meta } = this.row;
      this.journal.update(this.row.taskID, { status, containerID, lastCommandSeq, meta });
    });
  }

  private write(key: string, write: () => void): void {
    if (this.space) this.space.write(key, write);
    else write();
  }
}
