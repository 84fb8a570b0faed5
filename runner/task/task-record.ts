/**
 * One task's row of the journal, held in memory and written through (internal to task/): a
 * run reads its own state from here, never from the database, and every change goes to the
 * journal at once, so a restarted runner finds it there. Appending events goes through here
 * too, since the journal moves the row's counters in the same transaction.
 */
import type { RunnerEventBody } from "../../shared/events.ts";
import type { RunnerEvent } from "../../shared/protocol.ts";
import type { Task } from "../../shared/task.ts";
import type { Journal, TaskMeta, TaskRow } from "./journal.ts";

export type TaskOutcome = NonNullable<TaskMeta["outcome"]>;

export class TaskRecord {
  private readonly row: TaskRow;

  constructor(
    private readonly journal: Journal,
    row: TaskRow,
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
    this.journal.update(this.row.taskID, fields);
    Object.assign(this.row, fields);
  }

  /** Merges `fields` into the meta and writes it. */
  updateMeta(fields: Partial<TaskMeta>): void {
    this.row.meta = { ...this.row.meta, ...fields };
    this.journal.update(this.row.taskID, { meta: this.row.meta });
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
    return events;
  }

  unacked(afterRseq: number, limit: number): RunnerEvent[] {
    return this.journal.unacked(this.row.taskID, this.row.epoch, afterRseq, limit);
  }

  ack(rseq: number): number {
    return this.journal.ack(this.row.taskID, this.row.epoch, rseq);
  }

  /** The task leaves the journal with its outbox. */
  remove(): void {
    this.journal.removeTask(this.row.taskID);
  }
}
