import { describe, expect, it } from "vitest";
import { TaskLimits } from "./task.ts";

describe("TaskLimits", () => {
  it("takes container memory and CPUs a task asks for, within bounds", () => {
    expect(TaskLimits.safeParse({ memoryMB: 512, cpus: 0.5 }).success).toBe(true);
    expect(TaskLimits.safeParse({ memoryMB: 16 }).success).toBe(false);
    expect(TaskLimits.safeParse({ memoryMB: 512.5 }).success).toBe(false);
    expect(TaskLimits.safeParse({ cpus: 0 }).success).toBe(false);
    expect(TaskLimits.safeParse({ pidsLimit: 5 }).success).toBe(false);
  });
});
