import { describe, expect, it } from "vitest";
import { BudgetReachedData, RaiseLimitsRequest, budgetLimitsOf, raiseLimits } from "./budget.ts";
import { RunnerEventBody } from "./events.ts";
import { Command, RunnerToWorker } from "./protocol.ts";

describe("RaiseLimitsRequest", () => {
  it("takes one or more of the four limits within the bounds of TaskLimits", () => {
    expect(RaiseLimitsRequest.safeParse({ maxTurns: 10 }).success).toBe(true);
    expect(RaiseLimitsRequest.safeParse({ maxTokens: 2000, maxCostUSD: 1.5, timeoutMinutes: 30 }).success).toBe(true);
  });

  it("refuses nothing named, other fields, non-finite and out-of-bound numbers", () => {
    for (const bad of [{}, { memoryMB: 512 }, { maxTurns: 5, x: 1 }, { maxTurns: 1001 }, { maxTokens: Infinity }, { maxCostUSD: 0 }, { maxCostUSD: 10_001 }, { timeoutMinutes: 1.5 }, { maxTurns: "5" }]) {
      expect(RaiseLimitsRequest.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe("raiseLimits", () => {
  it("applies a raise over the task's limits", () => {
    expect(raiseLimits({ maxTurns: 2, maxTokens: 100, memoryMB: 256 }, { maxTurns: 5 })).toEqual({ ok: true, limits: { maxTurns: 5, maxTokens: 100 } });
  });

  it("refuses a lowering, an equal value and a limit the task does not have", () => {
    expect(raiseLimits({ maxTurns: 2 }, { maxTurns: 1 })).toMatchObject({ ok: false, message: expect.stringMatching(/does not raise/) });
    expect(raiseLimits({ maxTurns: 2 }, { maxTurns: 2 })).toMatchObject({ ok: false });
    expect(raiseLimits({ maxTurns: 2 }, { maxCostUSD: 3 })).toMatchObject({ ok: false, message: expect.stringMatching(/no such limit/) });
  });

  it("budgetLimitsOf keeps only the four", () => {
    expect(budgetLimitsOf({ maxTurns: 1, cpus: 2, timeoutMinutes: 3 })).toEqual({ maxTurns: 1, timeoutMinutes: 3 });
  });
});

describe("budget frames and events", () => {
  const reached = { limit: "maxTokens", reason: "token budget spent", limits: { maxTokens: 100 }, spent: { maxTokens: 100 }, remaining: { maxTokens: 0 } };

  it("accepts budget.reached from a runner, a limits command and budget.raised to the worker", () => {
    expect(RunnerEventBody.safeParse({ type: "budget.reached", data: reached }).success).toBe(true);
    expect(Command.safeParse({ seq: 3, kind: "limits", limits: { maxTokens: 200 } }).success).toBe(true);
    expect(RunnerToWorker.safeParse({ type: "budget.raised" }).success).toBe(true);
  });

  it("refuses an unknown limit, a negative amount and budget.raised from a runner", () => {
    expect(BudgetReachedData.safeParse({ ...reached, limit: "memoryMB" }).success).toBe(false);
    expect(BudgetReachedData.safeParse({ ...reached, spent: { maxTokens: -1 } }).success).toBe(false);
    expect(RunnerEventBody.safeParse({ type: "budget.raised", data: { limits: {}, previous: {}, by: "u" } }).success).toBe(false);
    expect(Command.safeParse({ seq: 3, kind: "limits", limits: { maxTokens: 0 } }).success).toBe(false);
  });
});
