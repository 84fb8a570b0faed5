/**
 * A runner's last sign of life (internal to edge/account/). Each one (connect, hello,
 * heartbeat) goes in its control socket's attachment, which survives hibernation and costs
 * no SQLite row; the runners table's `last_seen_at` is written only when it is
 * LAST_SEEN_WRITE_SECONDS old or more, at hello, and when the socket closes. Readers take
 * the later of the row and the attachments of the runner's sockets, so an online runner's
 * last-seen is as fresh as its last heartbeat; an offline one's is its socket's last, or,
 * when the socket vanished with no close, at most LAST_SEEN_WRITE_SECONDS older than that.
 */

/** How stale the stored last-seen of a connected runner may grow before a sign of life writes it. */
export const LAST_SEEN_WRITE_SECONDS = 5 * 60;

/** A stored last-seen (ISO time) in ms; 0 when there is none. */
export function seenMs(stored: string | null): number {
  return stored === null ? 0 : Date.parse(stored);
}

/** The later of the stored last-seen (ISO time) and the sockets' (ms), as ISO time; null when there is none. */
export function latestSeen(stored: string | null, sockets: number[]): string | null {
  const ms = Math.max(seenMs(stored), ...sockets);
  return ms > 0 ? new Date(ms).toISOString() : null;
}

/** Whether a sign of life at `now` (ms) writes the stored last-seen (always when none is stored). */
export function lastSeenDue(stored: string | null, now: number): boolean {
  return now - seenMs(stored) >= LAST_SEEN_WRITE_SECONDS * 1000;
}
