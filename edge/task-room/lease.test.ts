import { describe, expect, it } from "vitest";
import { RUNNER_GRACE_SECONDS } from "../../shared/index.ts";
import { graceSecondsOf, leaseStep, lostAt, renewed } from "./lease.ts";
import type { Lease } from "./store.ts";

const lease = (over: Partial<Lease> = {}): Lease => ({ runnerID: "run_a", epoch: 1, seconds: 90, expiresAt: 100_000, attached: true, graceSeconds: 600, unreachableSince: null, ...over });

describe("lease steps", () => {
  it("waits for the lease, then marks the runner unreachable once, then waits out the grace from the last sign of life, then loses the task", () => {
    // Last sign of life at 10 s: the lease runs to 100 s, the grace to 610 s.
    expect(lostAt(lease())).toBe(610_000);
    expect(leaseStep(lease(), 99_999)).toEqual({ kind: "wait", until: 100_000 });
    expect(leaseStep(lease(), 100_000)).toEqual({ kind: "unreachable", until: 610_000 });
    expect(leaseStep(lease({ unreachableSince: 100_000 }), 300_000)).toEqual({ kind: "wait", until: 610_000 });
    expect(leaseStep(lease({ unreachableSince: 100_000 }), 610_000)).toEqual({ kind: "lost" });
  });

  it("never gives a shorter grace than the lease", () => {
    expect(lostAt(lease({ graceSeconds: 10 }))).toBe(100_000);
    expect(leaseStep(lease({ graceSeconds: 10 }), 100_000)).toEqual({ kind: "lost" });
  });

  it("a sign of life makes an unreachable holder reachable, however small the move", () => {
    expect(renewed(lease(), 10_500)).toBeNull();
    expect(renewed(lease({ unreachableSince: 100_000 }), 200_000)).toMatchObject({ expiresAt: 290_000, unreachableSince: null });
  });

  it("reads the edge's grace setting, or the default", () => {
    expect(graceSecondsOf("300")).toBe(300);
    expect(graceSecondsOf(undefined)).toBe(RUNNER_GRACE_SECONDS);
    for (const bad of ["", "0", "-5", "1.5", "soon"]) expect(graceSecondsOf(bad)).toBe(RUNNER_GRACE_SECONDS);
  });
});

describe("lease renewal", () => {
  it("rewrites a lease only when contact moves it by a third of its TTL", () => {
    const held = lease({ expiresAt: 90_000 });
    expect(renewed(held, 29_999)).toBeNull();
    expect(renewed(held, 30_000)).toEqual({ ...held, expiresAt: 120_000 });
  });

  it("moves a short lease by at least a second", () => {
    const held = lease({ seconds: 2, expiresAt: 2_000 });
    expect(renewed(held, 999)).toBeNull();
    expect(renewed(held, 1_000)).toEqual({ ...held, expiresAt: 3_000 });
  });
});
