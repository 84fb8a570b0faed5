/**
 * The Account DO's SQLite tables (internal to edge/account/): the task index (each task's
 * dispatch state beside a projection of the record its TaskRoom reports), the runner
 * registry with credential hashes and drain marks, and registration-token hashes.
 */
import { TERMINAL_STATUSES, type Task, type TaskStatus, RunnerInfo } from "../../shared/index.ts";

/** Statuses in which a task holds a slot of its runner. */
export const HOLDING_STATUSES: readonly TaskStatus[] = ["assigned", "running", "waiting"];
const HOLDING_SQL = HOLDING_STATUSES.map((s) => `'${s}'`).join(",");
const TERMINAL_SQL = TERMINAL_STATUSES.map((s) => `'${s}'`).join(",");

export type TaskRow = {
  id: string;
  status: TaskStatus;
  labels: string[];
  runnerID: string | null;
  epoch: number;
  /** The runner said `accept` for the current epoch (or already reported progress). */
  accepted: boolean;
  acceptDeadline: number | null;
  rejectedBy: string | null;
  lastSeq: number;
  task: Task;
};

export type RunnerRow = {
  id: string;
  name: string;
  labels: string[];
  capacity: number;
  secretHash: string;
  createdAt: string;
  lastSeenAt: string | null;
  version: string | null;
};

export type TaskQuery = { status?: TaskStatus; q?: string; limit: number; cursor?: { createdAt: string; id: string } };

type Raw = Record<string, SqlStorageValue>;

function taskRowOf(r: Raw): TaskRow {
  const task = JSON.parse(r.json as string) as Task;
  const status = r.status as TaskStatus;
  const runnerID = (r.runner_id as string | null) ?? null;
  return {
    id: r.id as string,
    status,
    labels: JSON.parse(r.labels as string) as string[],
    runnerID,
    epoch: r.epoch as number,
    accepted: r.accepted === 1,
    acceptDeadline: (r.accept_deadline as number | null) ?? null,
    rejectedBy: (r.rejected_by as string | null) ?? null,
    lastSeq: r.last_seq as number,
    task: { ...task, status, runnerID },
  };
}

function runnerRowOf(r: Raw): RunnerRow {
  return {
    id: r.id as string,
    name: r.name as string,
    labels: JSON.parse(r.labels as string) as string[],
    capacity: r.capacity as number,
    secretHash: r.secret_hash as string,
    createdAt: r.created_at as string,
    lastSeenAt: (r.last_seen_at as string | null) ?? null,
    version: (r.version as string | null) ?? null,
  };
}

function likePattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

export class AccountStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL,
        title TEXT NOT NULL,
        prompt TEXT NOT NULL,
        labels TEXT NOT NULL,
        runner_id TEXT,
        epoch INTEGER NOT NULL DEFAULT 0,
        accepted INTEGER NOT NULL DEFAULT 0,
        accept_deadline INTEGER,
        rejected_by TEXT,
        last_seq INTEGER NOT NULL,
        json TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS tasks_newest ON tasks (created_at DESC, id DESC);
      CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks (status, created_at);
      CREATE INDEX IF NOT EXISTS tasks_by_runner ON tasks (runner_id, status);
      CREATE TABLE IF NOT EXISTS runners (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        labels TEXT NOT NULL,
        capacity INTEGER NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen_at TEXT,
        version TEXT
      );
      CREATE TABLE IF NOT EXISTS registration_tokens (hash TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS draining_runners (id TEXT PRIMARY KEY);
    `);
  }

  getMeta(key: string): string | null {
    const rows = this.sql.exec("SELECT value FROM meta WHERE key = ?", key).toArray();
    return (rows[0]?.value as string | undefined) ?? null;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  // ── tasks ──────────────────────────────────────────────────────────────────

  insertTask(task: Task): boolean {
    const cursor = this.sql.exec(
      `INSERT INTO tasks (id, created_at, status, title, prompt, labels, runner_id, last_seq, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
      task.id,
      task.createdAt,
      task.status,
      task.title,
      task.prompt,
      JSON.stringify(task.labels),
      task.runnerID,
      task.lastSeq,
      JSON.stringify(task),
    );
    return cursor.rowsWritten > 0;
  }

  /** Indexes an imported task (terminal, so never dispatched), over any row of the same id. */
  putImportedTask(task: Task): void {
    this.deleteTask(task.id);
    this.insertTask(task);
    this.sql.exec("UPDATE tasks SET accepted = 1 WHERE id = ?", task.id);
  }

  deleteTask(id: string): boolean {
    return this.sql.exec("DELETE FROM tasks WHERE id = ?", id).rowsWritten > 0;
  }

  /** Tasks in a terminal status last changed before `cutoff` (ISO time), oldest first. */
  expiredTasks(cutoff: string, limit: number): TaskRow[] {
    return this.sql
      .exec(
        `SELECT * FROM tasks WHERE status IN (${TERMINAL_SQL}) AND json_extract(json, '$.updatedAt') < ?
         ORDER BY json_extract(json, '$.updatedAt') ASC LIMIT ?`,
        cutoff,
        limit,
      )
      .toArray()
      .map(taskRowOf);
  }

  /** When the task that ended longest ago last changed (ISO time), null when none has ended. */
  oldestEnded(): string | null {
    const r = this.sql.exec(`SELECT MIN(json_extract(json, '$.updatedAt')) AS t FROM tasks WHERE status IN (${TERMINAL_SQL})`).toArray()[0];
    return (r?.t as string | null | undefined) ?? null;
  }

  getTask(id: string): TaskRow | null {
    const r = this.sql.exec("SELECT * FROM tasks WHERE id = ?", id).toArray()[0];
    return r ? taskRowOf(r) : null;
  }

  /**
   * Writes the row's columns that differ from the stored ones, and nothing when none does:
   * SQLite bills an UPDATE one row for the table and one for each index holding a column its
   * SET names, changed or not (status and runner_id are indexed).
   */
  saveTask(row: TaskRow): void {
    const stored = this.sql.exec("SELECT * FROM tasks WHERE id = ?", row.id).toArray()[0];
    if (!stored) return;
    const task: Task = { ...row.task, status: row.status, runnerID: row.runnerID };
    const columns: Record<string, SqlStorageValue> = {
      status: row.status,
      runner_id: row.runnerID,
      epoch: row.epoch,
      accepted: row.accepted ? 1 : 0,
      accept_deadline: row.acceptDeadline,
      rejected_by: row.rejectedBy,
      last_seq: row.lastSeq,
      json: JSON.stringify(task),
    };
    const changed = Object.entries(columns).filter(([name, value]) => (stored[name] ?? null) !== value);
    if (changed.length === 0) return;
    this.sql.exec(
      `UPDATE tasks SET ${changed.map(([name]) => `${name} = ?`).join(", ")} WHERE id = ?`,
      ...changed.map(([, value]) => value),
      row.id,
    );
  }

  listTasks(query: TaskQuery): TaskRow[] {
    const where: string[] = [];
    const args: SqlStorageValue[] = [];
    if (query.status) {
      where.push("status = ?");
      args.push(query.status);
    }
    if (query.q) {
      where.push("(title LIKE ? ESCAPE '\\' OR prompt LIKE ? ESCAPE '\\' OR json_extract(json, '$.repo.url') LIKE ? ESCAPE '\\')");
      args.push(likePattern(query.q), likePattern(query.q), likePattern(query.q));
    }
    if (query.cursor) {
      where.push("(created_at < ? OR (created_at = ? AND id < ?))");
      args.push(query.cursor.createdAt, query.cursor.createdAt, query.cursor.id);
    }
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
                 ORDER BY created_at DESC, id DESC LIMIT ?`;
    return this.sql.exec(sql, ...args, query.limit).toArray().map(taskRowOf);
  }

  /** Queued tasks, oldest first, after the given one (a page of the queue). */
  queuedTasks(limit: number, after?: { createdAt: string; id: string }): TaskRow[] {
    const page = after
      ? this.sql.exec(
          "SELECT * FROM tasks WHERE status = 'queued' AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at ASC, id ASC LIMIT ?",
          after.createdAt,
          after.createdAt,
          after.id,
          limit,
        )
      : this.sql.exec("SELECT * FROM tasks WHERE status = 'queued' ORDER BY created_at ASC, id ASC LIMIT ?", limit);
    return page.toArray().map(taskRowOf);
  }

  /** Tasks whose runner holds a slot for them. */
  heldTasks(runnerID: string): TaskRow[] {
    return this.sql
      .exec(`SELECT * FROM tasks WHERE runner_id = ? AND status IN (${HOLDING_SQL}) ORDER BY created_at ASC`, runnerID)
      .toArray()
      .map(taskRowOf);
  }

  /** Assignments not yet accepted whose deadline is at or before `now`. */
  overdueAssignments(now: number): TaskRow[] {
    return this.sql
      .exec("SELECT * FROM tasks WHERE status = 'assigned' AND accepted = 0 AND accept_deadline <= ?", now)
      .toArray()
      .map(taskRowOf);
  }

  nextAcceptDeadline(): number | null {
    const r = this.sql.exec("SELECT MIN(accept_deadline) AS d FROM tasks WHERE status = 'assigned' AND accepted = 0").toArray()[0];
    return (r?.d as number | null | undefined) ?? null;
  }

  // ── runners ────────────────────────────────────────────────────────────────

  insertRunner(r: RunnerRow): void {
    this.sql.exec(
      "INSERT INTO runners (id, name, labels, capacity, secret_hash, created_at, last_seen_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      r.id,
      r.name,
      JSON.stringify(r.labels),
      r.capacity,
      r.secretHash,
      r.createdAt,
      r.lastSeenAt,
      r.version,
    );
  }

  getRunner(id: string): RunnerRow | null {
    const r = this.sql.exec("SELECT * FROM runners WHERE id = ?", id).toArray()[0];
    return r ? runnerRowOf(r) : null;
  }

  countRunners(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM runners").one().n;
  }

  /** Tasks whose status is not terminal. */
  countUnfinishedTasks(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE status NOT IN (${TERMINAL_SQL})`).one().n;
  }

  listRunners(): RunnerRow[] {
    return this.sql.exec("SELECT * FROM runners ORDER BY created_at ASC, id ASC").toArray().map(runnerRowOf);
  }

  updateRunnerHello(id: string, labels: string[], capacity: number, version: string, seenAt: string): void {
    this.sql.exec(
      "UPDATE runners SET labels = ?, capacity = ?, version = ?, last_seen_at = ? WHERE id = ?",
      JSON.stringify(labels),
      capacity,
      version,
      seenAt,
      id,
    );
  }

  touchRunner(id: string, seenAt: string): void {
    this.sql.exec("UPDATE runners SET last_seen_at = ? WHERE id = ?", seenAt, id);
  }

  deleteRunner(id: string): boolean {
    this.sql.exec("DELETE FROM draining_runners WHERE id = ?", id);
    return this.sql.exec("DELETE FROM runners WHERE id = ?", id).rowsWritten > 0;
  }

  /** A draining runner keeps what it holds and is handed nothing new. */
  setDraining(id: string, draining: boolean): void {
    if (draining) this.sql.exec("INSERT INTO draining_runners (id) VALUES (?) ON CONFLICT (id) DO NOTHING", id);
    else this.sql.exec("DELETE FROM draining_runners WHERE id = ?", id);
  }

  isDraining(id: string): boolean {
    return this.sql.exec("SELECT 1 FROM draining_runners WHERE id = ?", id).toArray().length > 0;
  }

  runnerInfo(r: RunnerRow, online: boolean): RunnerInfo {
    return {
      id: r.id,
      name: r.name,
      labels: r.labels,
      capacity: r.capacity,
      online,
      draining: this.isDraining(r.id),
      lastSeenAt: r.lastSeenAt,
      runningTasks: this.heldTasks(r.id).map((t) => t.id),
      version: r.version,
      createdAt: r.createdAt,
    };
  }

  // ── registration tokens ────────────────────────────────────────────────────

  insertRegistrationToken(hash: string, expiresAt: number, now: number): void {
    this.sql.exec("DELETE FROM registration_tokens WHERE expires_at <= ?", now);
    this.sql.exec("INSERT INTO registration_tokens (hash, expires_at) VALUES (?, ?)", hash, expiresAt);
  }

  /** Registration tokens not used and not expired. */
  countOpenRegistrationTokens(now: number): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM registration_tokens WHERE expires_at > ?", now).one().n;
  }

  /** Uses up a registration token: true once, if it exists and has not expired. */
  consumeRegistrationToken(hash: string, now: number): "ok" | "unknown" | "expired" {
    const r = this.sql.exec("DELETE FROM registration_tokens WHERE hash = ? RETURNING expires_at", hash).toArray()[0];
    if (!r) return "unknown";
    return (r.expires_at as number) > now ? "ok" : "expired";
  }
}
