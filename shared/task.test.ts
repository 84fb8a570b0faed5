import { describe, expect, it } from "vitest";
import { CreateTaskRequest, newTaskRecord, TITLE_CHARS, Task, TaskLimits, titleFromPrompt } from "./task.ts";

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
