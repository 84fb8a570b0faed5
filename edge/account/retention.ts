/**
 * The account's retention (internal to edge/account/): with `retentionDays` set, a task
 * that ended (terminal status) longer ago than that is deleted whole by the Account's alarm.
 * Tasks that have not ended are kept whatever their age. Pure: times in, times out.
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** Tasks deleted per alarm run; when more are due the alarm comes back at once. */
export const SWEEP_BATCH = 25;

/** Tasks that ended before this time (ISO) are due. */
export function retentionCutoff(now: number, days: number): string {
  return new Date(now - days * DAY_MS).toISOString();
}

/** When the next task falls due (never before `now`), or null when none can. */
export function nextSweepAt(now: number, days: number | null, oldestEnded: string | null): number | null {
  if (days === null || oldestEnded === null) return null;
  const due = Date.parse(oldestEnded) + days * DAY_MS;
  return Number.isFinite(due) ? Math.max(due, now) : now;
}

/** The earlier of two alarm times, either of which may be absent. */
export function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
