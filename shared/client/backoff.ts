/**
 * Reconnect delays with full jitter: random(0, min(cap, base × 2^attempt)).
 */
export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 64_000;

export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
