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
