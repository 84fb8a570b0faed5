import { describe, expect, it } from "vitest";
import { budgetOf, removesWorkspace, resourcesFor, unpricedBudgetOf, workerTaskOf } from "./spec.ts";
import { assignmentOf } from "../testing/fixtures.ts";

describe("task spec", () => {
  it("caps a task's memory and CPUs at the runner's maximum and keeps the runner's pids", () => {
    const max = { memoryMB: 2048, cpus: 2, pids: 512 };
    expect(resourcesFor({}, max)).toEqual(max);
    expect(resourcesFor({ memoryMB: 512, cpus: 0.5 }, max)).toEqual({ memoryMB: 512, cpus: 0.5, pids: 512 });
    expect(resourcesFor({ memoryMB: 65_536, cpus: 16 }, max)).toEqual(max);
  });

  it("removes a task's workspace per policy, and an abandoned task's unless the policy is never", () => {
    const acked = (succeeded: boolean) => ({ kind: "acked" as const, succeeded });
    const abandoned = { kind: "abandoned" as const, reason: "revoked" };
    expect([acked(true), acked(false), abandoned].map((e) => removesWorkspace("always", e))).toEqual([true, true, true]);
    expect([acked(true), acked(false), abandoned].map((e) => removesWorkspace("on-success", e))).toEqual([true, false, true]);
    expect([acked(true), acked(false), abandoned].map((e) => removesWorkspace("never", e))).toEqual([false, false, false]);
  });

  it("gives the proxy only the budget and the worker the task with its branch", () => {
    const { task } = assignmentOf("t1", 1, { model: "claude-x", limits: { maxTurns: 4, maxCostUSD: 1, memoryMB: 512 } });
    expect(budgetOf(task)).toEqual({ maxTokens: undefined, maxCostUSD: 1, maxTurns: 4, timeoutMinutes: undefined, model: "claude-x" });
    expect(budgetOf(task, { maxTurns: 9 })).toEqual({ maxTokens: undefined, maxCostUSD: 1, maxTurns: 9, timeoutMinutes: undefined, model: "claude-x" });
    expect(workerTaskOf(task, "tether/t1")).toEqual({
      taskID: "t1",
      prompt: "fix it",
      model: "claude-x",
      limits: { maxTurns: 4, maxCostUSD: 1, memoryMB: 512 },
      repo: { url: "https://example.invalid/repo.git", branch: "tether/t1" },
    });
  });

  it("carries the task's effort to the worker", () => {
    const { task } = assignmentOf("t2", 1, { effort: "low" });
    expect(workerTaskOf(task, undefined).effort).toBe("low");
  });

  it("refuses a USD limit on a model with no known price, and nothing else", () => {
    const unpriced = assignmentOf("t3", 1, { model: "claude-mythos-preview", limits: { maxCostUSD: 5 } }).task;
    expect(unpricedBudgetOf(unpriced)).toMatch(/cost limit of \$5 .* no price for claude-mythos-preview/);
    expect(unpricedBudgetOf(assignmentOf("t4", 1, { model: "claude-mythos-preview", limits: {} }).task)).toBeNull();
    expect(unpricedBudgetOf(assignmentOf("t5", 1, { limits: { maxCostUSD: 5 } }).task)).toBeNull();
    expect(unpricedBudgetOf(unpriced, { "claude-mythos-preview": { input: 1, output: 1, cacheWrite: 1, cacheRead: 1 } })).toBeNull();
  });
});
