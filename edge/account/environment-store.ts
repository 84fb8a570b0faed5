/**
 * The Account DO's saved environments (internal to edge/account/): one table, `environments`,
 * beside the task index, each row the environment's JSON with its id and creation time.
 */
import { type Environment, type EnvironmentRequest, environmentFor } from "../../shared/index.ts";

export class EnvironmentStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS environments (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        json TEXT NOT NULL
      );
    `);
  }

  /** Oldest first. */
  list(): Environment[] {
    return this.sql
      .exec("SELECT json FROM environments ORDER BY created_at, id")
      .toArray()
      .map((r) => JSON.parse(r.json as string) as Environment);
  }

  count(): number {
    return this.sql.exec("SELECT COUNT(*) AS n FROM environments").one().n as number;
  }

  get(id: string): Environment | null {
    const row = this.sql.exec("SELECT json FROM environments WHERE id = ?", id).toArray()[0];
    return row ? (JSON.parse(row.json as string) as Environment) : null;
  }

  insert(id: string, request: EnvironmentRequest, now: string): Environment {
    const env: Environment = { id, ...request, createdAt: now, updatedAt: now };
    this.sql.exec("INSERT INTO environments (id, created_at, json) VALUES (?, ?, ?)", id, now, JSON.stringify(env));
    return env;
  }

  /** Replaces the environment's fields; null when there is no such environment. */
  replace(id: string, request: EnvironmentRequest, now: string): Environment | null {
    const current = this.get(id);
    if (!current) return null;
    const env: Environment = { id, ...request, createdAt: current.createdAt, updatedAt: now };
    this.sql.exec("UPDATE environments SET json = ? WHERE id = ?", JSON.stringify(env), id);
    return env;
  }

  delete(id: string): boolean {
    return this.sql.exec("DELETE FROM environments WHERE id = ?", id).rowsWritten > 0;
  }

  /** The environment a task on `url` gets: the one named, else the best match by repository. */
  resolve(id: string | undefined, url: string): Environment | null | undefined {
    if (id !== undefined) return this.get(id);
    return environmentFor(this.list(), url);
  }
}
