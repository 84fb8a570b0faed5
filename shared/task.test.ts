import { describe, expect, it } from "vitest";
import { EVENT_DATA } from "./events.ts";
import { LIMITS } from "./limits.ts";
import { CreateTaskRequest, EMPTY_USAGE, newTaskRecord, TITLE_CHARS, Task, TaskLimits, Usage, addUsage, titleFromPrompt } from "./task.ts";

describe("TaskLimits", () => {
  it("takes container memory and CPUs a task asks for, within bounds", () => {
    expect(TaskLimits.safeParse({ memoryMB: 512, cpus: 0.5 }).success).toBe(true);
    expect(TaskLimits.safeParse({ memoryMB: 16 }).success).toBe(false);
    expect(TaskLimits.safeParse({ memoryMB: 512.5 }).success).toBe(false);
    expect(TaskLimits.safeParse({ cpus: 0 }).success).toBe(false);
    expect(TaskLimits.safeParse({ pidsLimit: 5 }).success).toBe(false);
  });
});

describe("effort", () => {
  it("takes low, medium or high on a new task and keeps it in the record", () => {
    const base = { repo: { url: "https://example.invalid/r.git" }, prompt: "fix it" };
    for (const effort of ["low", "medium", "high"]) expect(CreateTaskRequest.safeParse({ ...base, effort }).success).toBe(true);
    expect(CreateTaskRequest.safeParse({ ...base, effort: "max" }).success).toBe(false);
    const request = CreateTaskRequest.parse({ ...base, effort: "medium" });
    expect(Task.parse(newTaskRecord("t1", request, "u1")).effort).toBe("medium");
    expect(newTaskRecord("t2", CreateTaskRequest.parse(base), "u1").effort).toBeUndefined();
  });
});

describe("titleFromPrompt", () => {
  it("keeps a short first line whole", () => {
    expect(titleFromPrompt("  Fix the failing test\nin src/math.ts")).toBe("Fix the failing test");
  });

  it("cuts a long first line at a word boundary, within TITLE_CHARS", () => {
    const prompt = "Refactor the build scripts so that every package builds with esbuild and the tests run faster";
    const title = titleFromPrompt(prompt);
    expect(title).toBe("Refactor the build scripts so that every package builds…");
    expect(title.length).toBeLessThanOrEqual(TITLE_CHARS);
  });

  it("cuts a line with no space near the end inside the word", () => {
    const title = titleFromPrompt("x".repeat(200));
    expect(title).toBe(`${"x".repeat(TITLE_CHARS - 1)}…`);
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
