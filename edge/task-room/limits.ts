/**
 * Internal to the TaskRoom: a raise of a task's budget limits. Only the task's owner (its
 * creator) raises, only upwards, only limits the task has, within the bounds of `TaskLimits`
 * (shared/budget.ts). A raise becomes a `budget.raised` event, the task record's limits, and a
 * `limits` command carrying the limits as they now stand, so a runner that gets it twice, or
 * after a restart, applies the same thing.
 */
import { BudgetLimits, ErrorCode, budgetLimitsOf, describeIssues, raiseLimits, type Command, type Task } from "../../shared/index.ts";
import type { TaskLog } from "./log.ts";
import type { Refusal } from "./commands.ts";

/** Why `by` may not raise the task's limits to `limits`, or null. */
export function refuseRaise(task: Task, by: string, limits: unknown): Refusal | null {
  if (task.createdBy !== by) return { code: ErrorCode.Forbidden, message: `only the task's owner raises its limits` };
  const parsed = BudgetLimits.safeParse(limits);
  if (!parsed.success) return { code: ErrorCode.InvalidBody, message: describeIssues(parsed.error) };
  const raised = raiseLimits(task.limits, parsed.data);
  return raised.ok ? null : { code: ErrorCode.InvalidBody, message: raised.message };
}

/** Logs the raise and writes the new limits into the task (inside `commit`, after `refuseRaise`); the command for the runner. */
export function logRaise(log: TaskLog, task: Task, limits: BudgetLimits, by: string): Command {
  const previous = budgetLimitsOf(task.limits);
  const raised = raiseLimits(task.limits, limits);
  if (!raised.ok) throw new Error(`a refused raise was logged: ${raised.message}`);
  task.limits = { ...task.limits, ...raised.limits };
  const seq = log.appendEdge(task, "budget.raised", { limits: raised.limits, previous, by }).seq;
  return { seq, kind: "limits", limits: raised.limits };
}
