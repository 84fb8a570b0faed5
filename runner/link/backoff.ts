/**
 * Reconnect delays with full jitter: delay = random(0, min(cap, base × 2^attempt)). The
 * attempt count resets once a connection has stayed up for `stableMs`.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** A connection that stayed up this long resets the attempt count. */
  stableMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 1000, capMs: 64_000, stableMs: 30_000 };

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
    const ceiling = Math.min(this.opts.capMs, this.opts.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    return Math.floor(this.random() * ceiling);
  }

  /** Tells the policy how long the last connection stayed up. */
  connectionLasted(ms: number): void {
    if (ms >= this.opts.stableMs) this.attempt = 0;
  }
}
