import { describe, expect, it } from "vitest";
import { renewed } from "./lease.ts";
import type { Lease } from "./store.ts";

const lease = (seconds: number, expiresAt: number): Lease => ({ runnerID: "run_a", epoch: 1, seconds, expiresAt, attached: true });

describe("lease renewal", () => {
  it("rewrites a lease only when contact moves it by a third of its TTL", () => {
    const held = lease(90, 90_000);
    expect(renewed(held, 29_999)).toBeNull();
    expect(renewed(held, 30_000)).toEqual({ ...held, expiresAt: 120_000 });
  });

  it("moves a short lease by at least a second", () => {
    const held = lease(2, 2_000);
    expect(renewed(held, 999)).toBeNull();
    expect(renewed(held, 1_000)).toEqual({ ...held, expiresAt: 3_000 });
  });
});
