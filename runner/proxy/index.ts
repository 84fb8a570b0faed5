/**
 * The model proxy, as the rest of the runner uses it: one unix socket per task that forwards
 * to the Messages API with the runner's key and keeps the task's budget (model-proxy.ts).
 */
export { ModelProxy } from "./model-proxy.ts";
export type { BudgetReport, Reached, Spent, TaskBudget } from "./budget.ts";
