/**
 * Internal to the TaskRoom: its SQLite tables and every read and write of them.
 *
 *   room      one row: the account, the task record (JSON: what a task was created with,
 *             and apart, small, what changes as it runs) and the lease (its holder, fence,
 *             expiry, grace and whether the holder is unreachable)
 *   events    the task log; `seq` 1, 2, 3 … with no gaps; runner events carry (epoch, rseq),
 *             which rise by one within an epoch, and an epoch's events come after the older
 *             epochs' (the room takes a frame only from the lease's current epoch), so the
 *             last runner event tells an epoch's highest `rseq` without an index
 *   commands  the users' commands (a raise of limits or an approval's answer as JSON in `text`), by the `seq` of their log event
 *   manifest  an imported task's artifacts (name, size, SHA-256, type): what may be uploaded back
 *   staged_events  an import's events on their way in, apart until the import is whole
 *
 * A deleted room's storage is wiped whole (`deleteAll`); `createTables` then makes the
 * empty tables again for whatever the object is asked next.
 *
 * All calls are synchronous (the Durable Object's SQLite API); callers group the writes of
 * one input into `ctx.storage.transactionSync`.
 */
import { BudgetLimits, type ArtifactEntry, type Command, type Event, type Task } from "../../shared/index.ts";

/** Who holds the task, under which fence, and until when (epoch milliseconds). */
export type Lease = {
  runnerID: string;
  epoch: number;
  seconds: number;
  expiresAt: number;
  /** The holder's data socket has attached at least once in this epoch. */
  attached: boolean;
  /** Silence the task outlasts before it is lost (from the last sign of life, `expiresAt - seconds`). */
  graceSeconds: number;
  /** When the room marked the holder unreachable (its lease ran out); null while it is heard from. */
  unreachableSince: number | null;
};

/** `lastEpoch` is the highest epoch ever leased: frames of an older one are stale. */
export type RoomRecord = { accountID: string; task: Task; lease: Lease | null; lastEpoch: number };

/** An event on its way into the log, its `data` already serialized. */
export type NewEvent = { ts: string; type: string; dataJSON: string; epoch?: number; rseq?: number };

/** A stored event as the JSON text of an `Event`, built without re-parsing `data`. */
export type StoredEvent = { seq: number; json: string };

type RoomRow = {
  account_id: string;
  task: string;
  progress: string;
  lease_runner: string | null;
  lease_epoch: number | null;
  lease_seconds: number | null;
  lease_expires: number | null;
  attached: number;
  last_epoch: number;
  lease_grace: number | null;
  unreachable_since: number | null;
};

type EventRow = { seq: number; ts: string; type: string; data: string };

/** Six parameters a row: 16 rows stay under 100 bound parameters. */
const ROWS_PER_INSERT = 16;

export class TaskRoomStore {
  constructor(private readonly sql: SqlStorage) {
    this.createTables();
  }

  createTables(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS room (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        account_id TEXT NOT NULL,
        task TEXT NOT NULL,
        progress TEXT NOT NULL,
        lease_runner TEXT,
        lease_epoch INTEGER,
        lease_seconds INTEGER,
        lease_expires INTEGER,
        attached INTEGER NOT NULL DEFAULT 0,
        last_epoch INTEGER NOT NULL DEFAULT 0,
        lease_grace INTEGER,
        unreachable_since INTEGER
      );
      CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL,
        epoch INTEGER,
        rseq INTEGER
      );
      CREATE TABLE IF NOT EXISTS commands (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        text TEXT
      );
      CREATE TABLE IF NOT EXISTS manifest (
        name TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        content_type TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS staged_events (
        seq INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL
      );
    `);
    // Rooms made before the grace existed get its columns.
    const columns = new Set(this.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('room')").toArray().map((c) => c.name));
    for (const column of ["lease_grace", "unreachable_since"]) {
      if (!columns.has(column)) this.sql.exec(`ALTER TABLE room ADD COLUMN ${column} INTEGER`);
    }
  }

  loadRoom(): RoomRecord | null {
    const row = this.sql.exec<RoomRow>("SELECT * FROM room WHERE id = 1").toArray()[0];
    if (!row) return null;
    const lease: Lease | null =
      row.lease_runner === null || row.lease_epoch === null
        ? null
        : {
            runnerID: row.lease_runner,
            epoch: row.lease_epoch,
            seconds: row.lease_seconds ?? 0,
            expiresAt: row.lease_expires ?? 0,
            attached: row.attached === 1,
            graceSeconds: row.lease_grace ?? row.lease_seconds ?? 0,
            unreachableSince: row.unreachable_since,
          };
    const task = { ...(JSON.parse(row.task) as Task), ...(JSON.parse(row.progress) as Progress) };
    // A batch that changes nothing but the log leaves the progress row as it was.
    const last = this.sql.exec<{ seq: number; ts: string }>("SELECT seq, ts FROM events ORDER BY seq DESC LIMIT 1").toArray()[0];
    if (last && last.seq > task.lastSeq) {
      task.lastSeq = last.seq;
      if (last.ts > task.updatedAt) task.updatedAt = last.ts;
    }
    return { accountID: row.account_id, task, lease, lastEpoch: row.last_epoch };
  }

  insertRoom(accountID: string, task: Task): void {
    this.sql.exec("INSERT INTO room (id, account_id, task, progress) VALUES (1, ?, ?, ?)", accountID, JSON.stringify(task), progressJSON(task));
  }

  /**
   * Saves what changes as a task runs (a prompt of 100 KB is not rewritten with every batch).
   * `lastSeq` and `updatedAt` alone need no save: `loadRoom` reads them from the log.
   */
  saveTask(task: Task): void {
    this.sql.exec("UPDATE room SET progress = ? WHERE id = 1", progressJSON(task));
  }

  saveLease(lease: Lease | null): void {
    this.sql.exec(
      `UPDATE room SET lease_runner = ?, lease_epoch = ?, lease_seconds = ?, lease_expires = ?, attached = ?, last_epoch = MAX(last_epoch, ?),
       lease_grace = ?, unreachable_since = ? WHERE id = 1`,
      lease?.runnerID ?? null,
      lease?.epoch ?? null,
      lease?.seconds ?? null,
      lease?.expiresAt ?? null,
      lease?.attached ? 1 : 0,
      lease?.epoch ?? 0,
      lease?.graceSeconds ?? null,
      lease?.unreachableSince ?? null,
    );
  }

  /**
   * Appends events with `seq` from `firstSeq` on and returns them. Rows go in groups, one
   * statement per group, within the platform's 100 bound parameters per statement.
   */
  appendEvents(firstSeq: number, events: readonly NewEvent[]): StoredEvent[] {
    const stored: StoredEvent[] = [];
    for (let start = 0; start < events.length; start += ROWS_PER_INSERT) {
      const group = events.slice(start, start + ROWS_PER_INSERT);
      const params: (string | number | null)[] = [];
      group.forEach((event, i) => {
        const seq = firstSeq + start + i;
        params.push(seq, event.ts, event.type, event.dataJSON, event.epoch ?? null, event.rseq ?? null);
        stored.push({ seq, json: eventJSON({ seq, ts: event.ts, type: event.type, data: event.dataJSON }) });
      });
      this.sql.exec(`INSERT INTO events (seq, ts, type, data, epoch, rseq) VALUES ${group.map(() => "(?, ?, ?, ?, ?, ?)").join(", ")}`, ...params);
    }
    return stored;
  }

  /** Events with `seq > after`, oldest first, at most `limit`. */
  eventsAfter(after: number, limit: number): StoredEvent[] {
    return this.sql
      .exec<EventRow>("SELECT seq, ts, type, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
      .toArray()
      .map((row) => ({ seq: row.seq, json: eventJSON(row) }));
  }

  /** The highest `seq` an import has staged, 0 when none. */
  maxStagedSeq(): number {
    return this.sql.exec<{ m: number | null }>("SELECT MAX(seq) AS m FROM staged_events").one().m ?? 0;
  }

  clearStaged(): void {
    this.sql.exec("DELETE FROM staged_events");
  }

  /** Stages an import's events (four parameters a row, 24 rows a statement). */
  stageEvents(events: readonly { seq: number; ts: string; type: string; dataJSON: string }[]): void {
    for (let start = 0; start < events.length; start += 24) {
      const group = events.slice(start, start + 24);
      this.sql.exec(
        `INSERT INTO staged_events (seq, ts, type, data) VALUES ${group.map(() => "(?, ?, ?, ?)").join(", ")}`,
        ...group.flatMap((e) => [e.seq, e.ts, e.type, e.dataJSON]),
      );
    }
  }

  /** Replaces whatever the room held with the staged log (inside a transaction); the room row goes too. */
  takeStaged(): void {
    this.sql.exec(`
      DELETE FROM room; DELETE FROM events; DELETE FROM commands; DELETE FROM manifest;
      INSERT INTO events (seq, ts, type, data) SELECT seq, ts, type, data FROM staged_events ORDER BY seq;
      DELETE FROM staged_events;
    `);
  }

  saveManifest(artifacts: readonly ArtifactEntry[]): void {
    for (const a of artifacts) {
      this.sql.exec("INSERT OR REPLACE INTO manifest (name, size, sha256, content_type) VALUES (?, ?, ?, ?)", a.name, a.size, a.sha256, a.contentType);
    }
  }

  manifestEntry(name: string): ArtifactEntry | null {
    return this.sql.exec<ArtifactEntry>("SELECT name, size, sha256, content_type AS contentType FROM manifest WHERE name = ?", name).toArray()[0] ?? null;
  }

  /** The highest runner counter stored for `epoch`, 0 when none: the last runner event's, if it is of `epoch`. */
  maxRseq(epoch: number): number {
    const row = this.sql.exec<{ epoch: number; rseq: number }>("SELECT epoch, rseq FROM events WHERE rseq IS NOT NULL ORDER BY seq DESC LIMIT 1").toArray()[0];
    return row?.epoch === epoch ? row.rseq : 0;
  }

  insertCommand(command: Command): void {
    const text =
      command.kind === "message"
        ? command.text
        : command.kind === "egress.allow"
          ? command.host
          : command.kind === "limits"
            ? JSON.stringify(command.limits)
            : command.kind === "approval"
              ? JSON.stringify({ approvalID: command.approvalID, approved: command.approved, text: command.text })
              : null;
    this.sql.exec("INSERT INTO commands (seq, kind, text) VALUES (?, ?, ?)", command.seq, command.kind, text);
  }

  commandsAfter(after: number): Command[] {
    return this.sql
      .exec<{ seq: number; kind: string; text: string | null }>("SELECT seq, kind, text FROM commands WHERE seq > ? ORDER BY seq", after)
      .toArray()
      .map((row): Command => {
        if (row.kind === "message") return { seq: row.seq, kind: "message", text: row.text ?? "" };
        if (row.kind === "egress.allow") return { seq: row.seq, kind: "egress.allow", host: row.text ?? "" };
        if (row.kind === "limits") return { seq: row.seq, kind: "limits", limits: BudgetLimits.parse(JSON.parse(row.text ?? "{}")) };
        if (row.kind === "approval") return { seq: row.seq, kind: "approval", ...(JSON.parse(row.text ?? "{}") as { approvalID: string; approved: boolean; text?: string }) };
        return { seq: row.seq, kind: row.kind === "finish" ? "finish" : "cancel" };
      });
  }
}

type Progress = Pick<Task, "status" | "statusReason" | "runnerID" | "lastSeq" | "usage" | "egress" | "diff" | "branch" | "updatedAt" | "pendingApproval">;

function progressJSON(task: Task): string {
  const { status, statusReason, runnerID, lastSeq, usage, egress, diff, branch, updatedAt, pendingApproval } = task;
  return JSON.stringify({ status, statusReason, runnerID, lastSeq, usage, egress, diff, branch, updatedAt, pendingApproval } satisfies Progress);
}

function eventJSON(row: EventRow): string {
  return `{"seq":${row.seq},"ts":${JSON.stringify(row.ts)},"type":${JSON.stringify(row.type)},"data":${row.data}}`;
}

/** Parses a stored event back into an `Event` (for RPC answers, not for fan-out). */
export function parseStoredEvent(event: StoredEvent): Event {
  return JSON.parse(event.json) as Event;
}
