import { describe, expect, it } from "vitest";
import { CreateTaskRequest, newTaskRecord, Task, TaskLimits } from "./task.ts";

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
