/**
 * Rates kept in memory (internal to edge/): a token bucket, and one bucket per socket, by
 * an id the socket keeps in its attachment (the runtime hands a hibernatable socket over as
 * a new object each time). Memory is the right place where the state need not survive:
 * after a hibernation or restart a socket simply starts with a full bucket.
 */

/** `perSecond` tokens a second sustained, at most `burst` at once. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number = Date.now(),
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes one token; false (nothing taken) when the bucket is empty. */
  take(now: number = Date.now()): boolean {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.at) * this.perSecond) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A bucket per socket id, `perSecond` sustained with bursts of twice that. */
export class SocketRates {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly perSecond: number) {}

  /** Counts one frame of the socket; false when it is over its rate. */
  take(socketID: string): boolean {
    let bucket = this.buckets.get(socketID);
    if (!bucket) {
      bucket = new TokenBucket(this.perSecond, 2 * this.perSecond);
      this.buckets.set(socketID, bucket);
    }
    return bucket.take();
  }

  /** Drops a closed socket's bucket. */
  forget(socketID: string): void {
    this.buckets.delete(socketID);
  }
}
