import { describe, expect, it } from "vitest";
import { TITLE_CHARS, TaskLimits, titleFromPrompt } from "./task.ts";

describe("TaskLimits", () => {
  it("takes container memory and CPUs a task asks for, within bounds", () => {
    expect(TaskLimits.safeParse({ memoryMB: 512, cpus: 0.5 }).success).toBe(true);
    expect(TaskLimits.safeParse({ memoryMB: 16 }).success).toBe(false);
    expect(TaskLimits.safeParse({ memoryMB: 512.5 }).success).toBe(false);
    expect(TaskLimits.safeParse({ cpus: 0 }).success).toBe(false);
    expect(TaskLimits.safeParse({ pidsLimit: 5 }).success).toBe(false);
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
