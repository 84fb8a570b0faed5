/**
 * Reconnect delays with full jitter, for everything that dials the edge again after a drop
 * (the runner's sockets, the client SDK's task stream): the delay before attempt n is
 * random(0, min(cap, base × 2^n)). `Backoff` counts the attempts; the count starts over when
 * the owner says the edge answered on a connection (`answered`: a runner's `welcome` or
 * `attached`), once a connection has stayed up for `stableMs`, or when the owner resets it.
 *
 * Starting over on an answer makes recovery prompt once a flapping link holds again; a dial
 * budget keeps that from becoming a reconnect storm: `dialBurst` dials at once, then one more
 * each `dialRefillMs` (a token bucket), so a link that answers and drops in a loop dials no
 * faster than that however often it is told to start over.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** A connection that stayed up this long resets the attempt count. */
  stableMs: number;
  /** Dials the budget holds when full (absent: no budget). */
  dialBurst?: number;
  /** The budget gains one dial this often. */
  dialRefillMs?: number;
  random?: () => number;
  /** The clock the dial budget reads (milliseconds). */
  now?: () => number;
}

const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 64_000;
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS, stableMs: 30_000, dialBurst: 20, dialRefillMs: 3000 };

/** The delay before attempt `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * ceiling);
}

export class Backoff {
  private attempt = 0;
  private readonly random: () => number;
  private readonly now: () => number;
  /** Dials left in the budget at `budgetAt`. */
  private budget: number;
  private budgetAt: number;

  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    this.budget = opts.dialBurst ?? 0;
    this.budgetAt = this.now();
  }

  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt; each call counts one attempt and spends one dial of the budget. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.random, this.opts.baseMs, this.opts.capMs);
    this.attempt += 1;
    return this.spendDial(delay);
  }

  /** The edge answered on the current connection: the next drop starts the count over. */
  answered(): void {
    this.attempt = 0;
  }

  /** Tells the policy how long the last connection stayed up. */
  connectionLasted(ms: number): void {
    if (ms >= this.opts.stableMs) this.attempt = 0;
  }

  /** Starts the count over (the owner skips the wait on purpose). */
  reset(): void {
    this.attempt = 0;
  }

  /** `delay`, or longer when the budget holds no dial by then; the dial is spent. */
  private spendDial(delay: number): number {
    const { dialBurst, dialRefillMs } = this.opts;
    if (!dialBurst || !dialRefillMs) return delay;
    const start = this.now();
    // No dial goes before the one the budget last let through.
    const at = Math.max(start + delay, this.budgetAt);
    const budget = Math.min(dialBurst, this.budget + (at - this.budgetAt) / dialRefillMs);
    const wait = budget >= 1 ? 0 : Math.ceil((1 - budget) * dialRefillMs);
    this.budget = budget + wait / dialRefillMs - 1;
    this.budgetAt = at + wait;
    return at + wait - start;
  }
}
