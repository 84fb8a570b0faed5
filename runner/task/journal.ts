/**
 * The runner's journal (better-sqlite3, WAL): the tasks it holds and the outbox of events not
 * yet acked by the edge. An event is written here, with its per-task `rseq`, before it is
 * sent; it leaves the outbox when a cumulative ack covers it. After a crash the journal says
 * which tasks to continue, which worker lines were already turned into events (`lastWseq`),
 * which user commands were already applied (`lastCommandSeq`) and what to resend. A write
 * may throw `SQLITE_FULL` when the disk is full: `JournalSpace` (journal-space.ts) keeps it.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { BudgetLimit, BudgetLimits } from "../../shared/budget.ts";
import type { RunnerEventBody } from "../../shared/events.ts";
import type { Assignment, RunnerEvent } from "../../shared/protocol.ts";

/**
 * Where a task stands on this runner: `finished` once its terminal status is in the outbox,
 * `gone` once the edge acked it (or it was abandoned) and it leaves the journal.
 */
export type LocalStatus = "preparing" | "running" | "waiting" | "finishing" | "finished" | "gone";

export interface TaskRow {
  taskID: string;
  epoch: number;
  status: LocalStatus;
  containerID: string | null;
  lastWseq: number;
  nextRseq: number;
  lastCommandSeq: number;
  workspace: string | null;
  /** The rseq of the terminal status event, once written: the task is done when it is acked. */
  finalRseq: number | null;
  meta: TaskMeta;
  assignment: Assignment;
}

/** What a restarted runner needs to carry on a task beyond the columns. */
export interface TaskMeta {
  /** The commit the task's diff is made against. */
  baseRef?: string;
  branch?: string;
  /** The model proxy's token and spending, so a running worker keeps its token. */
  proxy?: { token: string; startedAt: number; spent?: { tokens: number; costUSD: number; turns: number } };
  /** The user asked to finish: the task wraps up as soon as its current turn ends. */
  finishRequested?: boolean;
  /** Egress rules (host, *.domain, host:port) the user allowed for the rest of the task. */
  egressAllowed?: string[];
  /** The budget limits as the owner last raised them (over the task's own). */
  limits?: BudgetLimits;
  /** The task waits at a reached budget (budget-pause.ts): since when, frozen or not, and the phase it goes back to. */
  budgetPause?: { limit: BudgetLimit; reason: string; pausedAt: number; frozen: boolean; resumeTo: "running" | "waiting" };
  /** The terminal status decided before finishing began. */
  outcome?: { status: "succeeded" | "failed" | "cancelled"; reason?: string; exitCode?: number | null };
}

export class OutboxFullError extends Error {
  constructor(readonly limit: number) {
    super(`the outbox holds ${limit} unacked events (its limit): worker output is paused until the edge acks`);
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  taskID TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL,
  status TEXT NOT NULL,
  containerID TEXT,
  lastWseq INTEGER NOT NULL DEFAULT 0,
  nextRseq INTEGER NOT NULL DEFAULT 1,
  lastCommandSeq INTEGER NOT NULL DEFAULT 0,
  workspace TEXT,
  finalRseq INTEGER,
  meta TEXT NOT NULL DEFAULT '{}',
  assignment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  taskID TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  rseq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (taskID, epoch, rseq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS probe (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  at INTEGER NOT NULL
);
`;

interface RawRow extends Omit<TaskRow, "assignment" | "meta"> {
  assignment: string;
  meta: string;
}

function rowOf(raw: RawRow): TaskRow {
  return { ...raw, meta: JSON.parse(raw.meta) as TaskMeta, assignment: JSON.parse(raw.assignment) as Assignment };
}

export class Journal {
  private readonly db: Database.Database;
  private pending: number;
  /** Prepared once each: preparing costs more than running these one-row statements. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly appendInTransaction: OmitThisParameter<Journal["appendRows"]>;

  /** `path` ":memory:" keeps it in memory (tests). `outboxMax` bounds unacked events over all tasks. */
  constructor(
    path: string,
    private readonly outboxMax = 100_000,
    options: { readonly?: boolean } = {},
  ) {
    if (path !== ":memory:" && !options.readonly) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    if (!options.readonly) {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.exec(SCHEMA);
    }
    this.appendInTransaction = this.db.transaction(this.appendRows.bind(this));
    this.pending = (this.sql("SELECT count(*) AS n FROM outbox").get() as { n: number }).n;
  }

  journalMode(): string {
    return String(this.db.pragma("journal_mode", { simple: true }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** A one-row write: it goes through when the disk has room (`JournalSpace`). */
  probe(): void {
    this.sql("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)").run(Date.now());
  }

  /** Unacked events over all tasks. */
  get pendingCount(): number {
    return this.pending;
  }

  get isFull(): boolean {
    return this.pending >= this.outboxMax;
  }

  /** Records a newly accepted assignment; an older epoch of the same task is replaced with its outbox. */
  addTask(assignment: Assignment, workspace: string): TaskRow {
    const taskID = assignment.task.id;
    this.db.transaction(() => {
      this.dropOutbox(taskID);
      this.sql(
        `INSERT OR REPLACE INTO tasks (taskID, epoch, status, containerID, lastWseq, nextRseq, lastCommandSeq, workspace, finalRseq, meta, assignment)
         VALUES (?, ?, 'preparing', NULL, 0, 1, 0, ?, NULL, '{}', ?)`,
      ).run(taskID, assignment.epoch, workspace, JSON.stringify(assignment));
    })();
    return this.task(taskID)!;
  }

  task(taskID: string): TaskRow | undefined {
    const row = this.sql("SELECT * FROM tasks WHERE taskID = ?").get(taskID) as RawRow | undefined;
    return row && rowOf(row);
  }

  tasks(): TaskRow[] {
    return (this.sql("SELECT * FROM tasks ORDER BY rowid").all() as RawRow[]).map(rowOf);
  }

  /** Writes these columns of the task's row; `meta` is written whole. */
  update(taskID: string, fields: Partial<Pick<TaskRow, "status" | "containerID" | "lastCommandSeq" | "workspace" | "meta">>): void {
    const entries = Object.entries(fields).map(([k, v]): [string, unknown] => [k, k === "meta" ? JSON.stringify(v) : v]);
    if (entries.length === 0) return;
    const sets = entries.map(([k]) => `${k} = ?`).join(", ");
    this.sql(`UPDATE tasks SET ${sets} WHERE taskID = ?`).run(...entries.map(([, v]) => v), taskID);
  }

  /**
   * Appends events to a task's outbox with the next rseqs, in one transaction. `wseq` (the
   * worker line they came from) moves `lastWseq` forward in the same transaction, so a line is
   * turned into events exactly once. `final` marks the last event as the terminal status.
   * Throws `OutboxFullError` when the outbox is at its bound and nothing is written.
   */
  append(taskID: string, bodies: RunnerEventBody[], opts: { wseq?: number; final?: boolean; now?: Date } = {}): RunnerEvent[] {
    if (this.pending + bodies.length > this.outboxMax && bodies.length > 0) throw new OutboxFullError(this.outboxMax);
    return this.appendInTransaction(taskID, bodies, opts.wseq ?? null, opts.final ?? false, (opts.now ?? new Date()).toISOString());
  }

  private appendRows(taskID: string, bodies: RunnerEventBody[], wseq: number | null, final: boolean, ts: string): RunnerEvent[] {
    const row = this.sql("SELECT epoch, nextRseq FROM tasks WHERE taskID = ?").get(taskID) as { epoch: number; nextRseq: number } | undefined;
    if (!row) throw new Error(`journal: no task ${taskID}`);
    const insert = this.sql("INSERT INTO outbox (taskID, epoch, rseq, event) VALUES (?, ?, ?, ?)");
    const events = bodies.map((body, i) => {
      const event = { rseq: row.nextRseq + i, ts, ...body } as RunnerEvent;
      insert.run(taskID, row.epoch, event.rseq, JSON.stringify(event));
      return event;
    });
    const next = row.nextRseq + bodies.length;
    const finalRseq = final && events.length > 0 ? next - 1 : null;
    this.sql(
      `UPDATE tasks SET nextRseq = ?, lastWseq = max(lastWseq, coalesce(?, 0)), finalRseq = coalesce(?, finalRseq),
       status = CASE WHEN ? IS NULL THEN status ELSE 'finished' END WHERE taskID = ?`,
    ).run(next, wseq, finalRseq, finalRseq, taskID);
    this.pending += events.length;
    return events;
  }

  /** Unacked events of a task's epoch after `afterRseq`, oldest first. */
  unacked(taskID: string, epoch: number, afterRseq: number, limit: number): RunnerEvent[] {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`journal: unacked limit ${limit} is not a positive integer`);
    // The limit is written into the SQL: SQLite (as better-sqlite3 builds it) prepares a
    // statement again at each run when its LIMIT is a bound parameter.
    const rows = this.sql(`SELECT event FROM outbox WHERE taskID = ? AND epoch = ? AND rseq > ? ORDER BY rseq LIMIT ${limit}`)
      .all(taskID, epoch, afterRseq) as { event: string }[];
    return rows.map((r) => JSON.parse(r.event) as RunnerEvent);
  }

  /** Drops every event up to and including `rseq`; returns how many left. */
  ack(taskID: string, epoch: number, rseq: number): number {
    const n = this.sql("DELETE FROM outbox WHERE taskID = ? AND epoch = ? AND rseq <= ?").run(taskID, epoch, rseq).changes;
    this.pending -= n;
    return n;
  }

  pendingFor(taskID: string): number {
    return (this.sql("SELECT count(*) AS n FROM outbox WHERE taskID = ?").get(taskID) as { n: number }).n;
  }

  /** Forgets a task and its outbox. */
  removeTask(taskID: string): void {
    this.db.transaction(() => {
      this.dropOutbox(taskID);
      this.sql("DELETE FROM tasks WHERE taskID = ?").run(taskID);
    })();
  }

  /** The statement for `text`, prepared at its first use. */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private dropOutbox(taskID: string): void {
    this.pending -= this.sql("DELETE FROM outbox WHERE taskID = ?").run(taskID).changes;
  }
}
