/**
 * The account's Web Push subscriptions, one row per device (internal to edge/account/): its
 * own table beside the others of the Account's SQLite. At most MAX_PUSH_SUBSCRIPTIONS; a new
 * one beyond that replaces the oldest.
 */
import type { PushTarget } from "../push/send.ts";

export const MAX_PUSH_SUBSCRIPTIONS = 20;

export class PushSubscriptions {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS push_subscriptions (
        endpoint TEXT PRIMARY KEY,
        p256dh TEXT NOT NULL,
        auth TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `);
  }

  /** Adds or refreshes a device's subscription (a browser may renew its keys under the same endpoint). */
  put(target: PushTarget, now = new Date().toISOString()): void {
    this.sql.exec(
      `INSERT INTO push_subscriptions (endpoint, p256dh, auth, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, created_at = excluded.created_at`,
      target.endpoint,
      target.p256dh,
      target.auth,
      now,
    );
    this.sql.exec(
      `DELETE FROM push_subscriptions WHERE endpoint NOT IN
       (SELECT endpoint FROM push_subscriptions ORDER BY created_at DESC, endpoint DESC LIMIT ?)`,
      MAX_PUSH_SUBSCRIPTIONS,
    );
  }

  delete(endpoint: string): boolean {
    return this.sql.exec("DELETE FROM push_subscriptions WHERE endpoint = ?", endpoint).rowsWritten > 0;
  }

  list(): PushTarget[] {
    return this.sql
      .exec("SELECT endpoint, p256dh, auth FROM push_subscriptions ORDER BY created_at ASC, endpoint ASC")
      .toArray()
      .map((r) => ({ endpoint: r.endpoint as string, p256dh: r.p256dh as string, auth: r.auth as string }));
  }
}
