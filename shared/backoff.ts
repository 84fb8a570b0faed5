/**
 * Reconnect delays with full jitter, for everything that dials the edge again after a drop
 * (the runner's sockets, the client SDK's task stream): the delay before attempt n is
 * random(0, min(cap, base × 2^n)). `Backoff` counts the attempts; the count starts over once
 * a connection has stayed up for `stableMs`, or when the owner resets it.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** A connection that stayed up this long resets the attempt count. */
  stableMs: number;
  random?: () => number;
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 64_000;
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS, stableMs: 30_000 };

/** The delay before attempt `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * ceiling);
}

export class Backoff {
  private attempt = 0;
  private readonly random: () => number;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {
    this.random = opts.random ?? Math.random;
  }

  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt; each call counts one attempt. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.random, this.opts.baseMs, this.opts.capMs);
    this.attempt += 1;
    return delay;
  }

  /** Tells the policy how long the last connection stayed up. */
  connectionLasted(ms: number): void {
    if (ms >= this.opts.stableMs) this.attempt = 0;
  }

  /** Starts the count over (the owner skips the wait on purpose). */
  reset(): void {
    this.attempt = 0;
  }
}
