/**
 * How a socket to the edge slows down when the edge answers `rate_limited` (it dropped a
 * frame of this socket, which one it does not say): sending pauses, then the owner sends
 * again what may have been dropped (`resume`). Refusals that come while a pause runs belong
 * to the same burst and do not lengthen it; a refusal after a pause doubles the next one
 * (up to `capMs`, with jitter). From the first refusal until `quietMs` pass without one the
 * socket is `slow`: its owner keeps one frame in flight at a time. Internal to runner/link.
 */

export interface RatePauseOptions {
  baseMs: number;
  capMs: number;
  /** This long without a refusal ends the slow mode and starts the doubling over. */
  quietMs: number;
  random?: () => number;
}

export const DEFAULT_RATE_PAUSE: RatePauseOptions = { baseMs: 250, capMs: 8000, quietMs: 10_000 };

export class RatePause {
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private lastRefusal = -Infinity;
  private readonly random: () => number;

  constructor(
    private readonly opts: RatePauseOptions,
    private readonly resume: () => void,
  ) {
    this.random = opts.random ?? Math.random;
  }

  /** Nothing may be sent now. */
  get paused(): boolean {
    return this.timer !== undefined;
  }

  /** A refusal came within `quietMs`: one frame in flight at a time. */
  get slow(): boolean {
    return Date.now() - this.lastRefusal < this.opts.quietMs;
  }

  /** The edge answered `rate_limited`: pauses, unless a pause runs already; answers the pause in ms, or null. */
  refused(): number | null {
    const now = Date.now();
    if (now - this.lastRefusal >= this.opts.quietMs) this.attempt = 0;
    this.lastRefusal = now;
    if (this.timer) return null;
    const ceiling = Math.min(this.opts.capMs, this.opts.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const delay = Math.floor(ceiling / 2 + (this.random() * ceiling) / 2);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resume();
    }, delay);
    return delay;
  }

  /** Ends a pause without resuming (the socket closed or stops). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
