/**
 * What a task gets on this runner, derived from its record (internal to task/): its
 * branch, the model budget the proxy enforces, the task as the worker sees it, the
 * container's resources, and whether its workspace goes when the task ends.
 */
import type { BudgetLimits } from "../../shared/budget.ts";
import type { WorkerTask } from "../../shared/protocol.ts";
import { DEFAULT_MODEL, type Task, type TaskLimits } from "../../shared/task.ts";
import type { SandboxResources, TaskBudget } from "../ports.ts";
import { DEFAULT_PRICES, priceOf, type PriceTable } from "../proxy/prices.ts";

/** A repository on this host's own disk: an absolute path or a file:// URL. */
export function isLocalRepoURL(url: string): boolean {
  return url.startsWith("/") || /^file:/i.test(url);
}

export function branchOf(taskID: string): string {
  return `tether/${taskID}`;
}

/** The proxy's budget: the task's limits with any raise (`raised`) over them, and its model. */
export function budgetOf(task: Task, raised: BudgetLimits = {}): TaskBudget {
  const { maxTokens, maxCostUSD, maxTurns, timeoutMinutes } = task.limits;
  return { maxTokens, maxCostUSD, maxTurns, timeoutMinutes, ...raised, ...(task.model ? { model: task.model } : {}) };
}

/** Why the task cannot run here: a USD budget on a model this runner has no price for. */
export function unpricedBudgetOf(task: Task, prices: PriceTable = DEFAULT_PRICES): string | null {
  const model = task.model ?? DEFAULT_MODEL;
  if (task.limits.maxCostUSD === undefined || priceOf(model, prices) !== null) return null;
  return `the task has a cost limit of $${task.limits.maxCostUSD} but this runner knows no price for ${model}; add one with TETHER_MODEL_PRICES (--model-prices) or create the task without a cost limit`;
}

export function workerTaskOf(task: Task, branch: string | undefined): WorkerTask {
  return {
    taskID: task.id,
    prompt: task.prompt,
    limits: task.limits,
    repo: { ...task.repo, ...(branch ? { branch } : {}) },
    ...(task.model ? { model: task.model } : {}),
    ...(task.effort ? { effort: task.effort } : {}),
    ...(task.mode ? { mode: task.mode } : {}),
  };
}

export type WorkspaceCleanup = "always" | "on-success" | "never";

/** How a run ends: its terminal status acked by the edge, or abandoned on the edge's word. */
export type TaskEnding = { kind: "acked"; succeeded: boolean } | { kind: "abandoned"; reason: string };

/** Whether a task's workspace goes with it; an abandoned task has no outcome, so only `never` keeps it. */
export function removesWorkspace(policy: WorkspaceCleanup, ending: TaskEnding): boolean {
  if (ending.kind === "abandoned") return policy !== "never";
  return policy === "always" || (policy === "on-success" && ending.succeeded);
}

/** A task may ask for less memory or CPU than the runner's maximum, never more. */
export function resourcesFor(limits: TaskLimits, max: SandboxResources): SandboxResources {
  return {
    memoryMB: Math.min(limits.memoryMB ?? max.memoryMB, max.memoryMB),
    cpus: Math.min(limits.cpus ?? max.cpus, max.cpus),
    pids: max.pids,
  };
}
