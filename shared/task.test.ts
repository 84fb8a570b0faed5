import { describe, expect, it } from "vitest";
import { EVENT_DATA } from "./events.ts";
import { LIMITS } from "./limits.ts";
import { EMPTY_USAGE, TaskLimits, Usage, addUsage } from "./task.ts";

describe("TaskLimits", () => {
  it("takes container memory and CPUs a task asks for, within bounds", () => {
    expect(TaskLimits.safeParse({ memoryMB: 512, cpus: 0.5 }).success).toBe(true);
    expect(TaskLimits.safeParse({ memoryMB: 16 }).success).toBe(false);
    expect(TaskLimits.safeParse({ memoryMB: 512.5 }).success).toBe(false);
    expect(TaskLimits.safeParse({ cpus: 0 }).success).toBe(false);
    expect(TaskLimits.safeParse({ pidsLimit: 5 }).success).toBe(false);
  });
});

describe("addUsage", () => {
  it("clamps each sum at its bound, so a total always parses as Usage", () => {
    const near = { ...EMPTY_USAGE, inputTokens: Number.MAX_SAFE_INTEGER - 1, costUSD: LIMITS.maxTaskCostUSD - 1 };
    const call = { inputTokens: 10, outputTokens: 3, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 5 };
    const total = addUsage(near, call);
    expect(total).toEqual({ ...near, inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: 3, costUSD: LIMITS.maxTaskCostUSD, modelCalls: 1 });
    expect(Usage.safeParse(total).success).toBe(true);
    expect(addUsage(EMPTY_USAGE, { ...call, costUSD: 1e308 }).costUSD).toBe(LIMITS.maxTaskCostUSD);
  });

  it("refuses a usage event over the per-call bounds", () => {
    const data = { model: "m", inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 1e308 };
    expect(EVENT_DATA.usage.safeParse(data).success).toBe(false);
    expect(EVENT_DATA.usage.safeParse({ ...data, costUSD: 0.1, inputTokens: LIMITS.maxCallTokens + 1 }).success).toBe(false);
    expect(EVENT_DATA.usage.safeParse({ ...data, costUSD: 0.1 }).success).toBe(true);
  });
});
