import { describe, expect, it } from "vitest";
import { Backoff, backoffDelay } from "./backoff.ts";

describe("backoffDelay", () => {
  it("is random(0, min(64 s, 1 s × 2^attempt))", () => {
    expect(backoffDelay(0, () => 0.999)).toBe(999);
    expect(backoffDelay(3, () => 0.5)).toBe(4000);
    expect(backoffDelay(20, () => 0.5)).toBe(32_000);
    expect(backoffDelay(5, () => 0)).toBe(0);
  });
});

describe("Backoff", () => {
  it("draws from [0, min(cap, base·2^attempt)) with full jitter", () => {
    const top = new Backoff({ baseMs: 1000, capMs: 64_000, stableMs: 30_000, random: () => 0.999999 });
    expect(Array.from({ length: 9 }, () => top.next())).toEqual([999, 1999, 3999, 7999, 15999, 31999, 63999, 63999, 63999]);
    const bottom = new Backoff({ baseMs: 1000, capMs: 64_000, stableMs: 30_000, random: () => 0 });
    expect([bottom.next(), bottom.next(), bottom.next()]).toEqual([0, 0, 0]);
    const mid = new Backoff({ baseMs: 1000, capMs: 64_000, stableMs: 30_000, random: () => 0.5 });
    expect([mid.next(), mid.next(), mid.next()]).toEqual([500, 1000, 2000]);
  });

  it("resets only after a connection that stayed up, or when told to", () => {
    const b = new Backoff({ baseMs: 1000, capMs: 64_000, stableMs: 30_000, random: () => 0.5 });
    b.next();
    b.next();
    b.next();
    b.connectionLasted(2_000);
    expect(b.next()).toBe(4000);
    b.connectionLasted(30_000);
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(500);
    b.next();
    b.reset();
    expect(b.next()).toBe(500);
  });
});

describe("Backoff after an answer", () => {
  it("starts the count over when the edge answered, however short the connection", () => {
    const b = new Backoff({ baseMs: 1000, capMs: 64_000, stableMs: 30_000, random: () => 0.5 });
    for (let i = 0; i < 6; i++) b.next();
    expect(b.next()).toBe(32_000);
    b.answered();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(500);
  });

  it("spends a dial of its budget on each attempt: a link that answers and drops in a loop dials no faster than the refill", () => {
    let now = 0;
    const b = new Backoff({ baseMs: 1000, capMs: 64_000, stableMs: 30_000, dialBurst: 3, dialRefillMs: 5000, random: () => 0, now: () => now });
    const dialAt: number[] = [];
    for (let i = 0; i < 6; i++) {
      b.answered();
      now += b.next();
      dialAt.push(now);
    }
    expect(dialAt).toEqual([0, 0, 0, 5000, 10_000, 15_000]);
    // Quiet for a while, the budget fills again, up to the burst.
    now += 60_000;
    const again = [b.next(), b.next(), b.next(), b.next()];
    expect(again).toEqual([0, 0, 0, 5000]);
  });

  it("keeps the jittered delay when the budget has a dial", () => {
    let now = 0;
    const b = new Backoff({ baseMs: 1000, capMs: 64_000, stableMs: 30_000, dialBurst: 2, dialRefillMs: 1000, random: () => 0.5, now: () => now });
    expect(b.next()).toBe(500);
    now += 500;
    expect(b.next()).toBe(1000);
    now += 1000;
    // The third attempt's delay (2 s) lets the budget refill on its own.
    expect(b.next()).toBe(2000);
  });
});
