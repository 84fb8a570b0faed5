/**
 * A task's budget as every part speaks of it: the four limits a user can raise (model calls,
 * tokens, dollars, wall time), what a `budget.reached` event and a `budget.raised` event carry,
 * and the one rule for a raise.
 *
 * The rule: the runner's model proxy is the single counter of model calls, tokens and dollars
 * over the whole task; the runner's wall clock counts the task's minutes, not counting the time
 * it sat paused at a reached budget. Reaching any limit pauses the task in `waiting` (the call
 * that would pass it is refused, and a task out of time has its container frozen) until the
 * owner raises the limit, or until the runner's pause bound ends it as failed.
 *
 * A raise names one or more of the four limits; each must be set on the task already and the
 * new value must be above it and within the bounds of `TaskLimits`.
 */
import { z } from "zod";
import { TaskLimits } from "./task.ts";
import { BUDGET_LIMITS } from "./task-helpers.ts";

export const BudgetLimit = z.enum(BUDGET_LIMITS);
export type BudgetLimit = z.infer<typeof BudgetLimit>;

/** The four limits, each optional: what a raise names, and what a task's budget holds. */
export const BudgetLimits = TaskLimits.pick({ maxTurns: true, maxTokens: true, maxCostUSD: true, timeoutMinutes: true }).strict();
export type BudgetLimits = z.infer<typeof BudgetLimits>;

/** `PATCH /v1/tasks/:id/limits`: new values for one or more limits, each above the current one. */
export const RaiseLimitsRequest = BudgetLimits.refine((limits) => BUDGET_LIMITS.some((name) => limits[name] !== undefined), {
  message: `name at least one of ${BUDGET_LIMITS.join(", ")}`,
});
export type RaiseLimitsRequest = z.infer<typeof RaiseLimitsRequest>;

const amount = z.number().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** An amount per limit: model calls, tokens, dollars, minutes. */
export const BudgetAmounts = z.object({ maxTurns: amount, maxTokens: amount, maxCostUSD: amount, timeoutMinutes: amount }).partial();
export type BudgetAmounts = z.infer<typeof BudgetAmounts>;

/** The task reached `limit`: it waits for a raise. `limits` are the task's limits then, `spent` and `remaining` per limit. */
export const BudgetReachedData = z.object({
  limit: BudgetLimit,
  reason: z.string().max(2000),
  limits: BudgetLimits,
  spent: BudgetAmounts,
  remaining: BudgetAmounts,
});
export type BudgetReachedData = z.infer<typeof BudgetReachedData>;

/** A user raised the task's limits: `limits` as they now stand, `previous` as they stood. */
export const BudgetRaisedData = z.object({ limits: BudgetLimits, previous: BudgetLimits, by: z.string() });
export type BudgetRaisedData = z.infer<typeof BudgetRaisedData>;

/** The limits of `current` with `raise` applied, or why the raise is refused (a lowering, or a limit the task does not have). */
export function raiseLimits(current: TaskLimits, raise: BudgetLimits): { ok: true; limits: BudgetLimits } | { ok: false; message: string } {
  const limits = budgetLimitsOf(current);
  for (const name of BUDGET_LIMITS) {
    const next = raise[name];
    if (next === undefined) continue;
    const now = limits[name];
    if (now === undefined) return { ok: false, message: `${name}: the task has no such limit to raise` };
    if (!(next > now)) return { ok: false, message: `${name}: ${next} does not raise the limit of ${now}` };
    limits[name] = next;
  }
  return { ok: true, limits };
}

/** The four budget limits of a task's limits. */
export function budgetLimitsOf(limits: TaskLimits): BudgetLimits {
  const out: BudgetLimits = {};
  for (const name of BUDGET_LIMITS) if (limits[name] !== undefined) out[name] = limits[name];
  return out;
}
