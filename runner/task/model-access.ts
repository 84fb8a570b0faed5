/**
 * A task's registration with the model proxy (internal to task/): the budget it gets (with any
 * raise), its usage turned into events, its refusals passed to the run (budget-pause.ts), and its token and spending kept in the task's
 * record, so a restarted runner registers a running worker again with the same token and
 * what it has already spent.
 */
import type { RunnerEventBody } from "../../shared/events.ts";
import type { BudgetReport, ProxyPort, ProxyRegistration, Reached } from "../ports.ts";
import { budgetOf } from "./spec.ts";
import type { TaskRecord } from "./task-record.ts";

/** What the task's model access reports to its run. */
export interface ModelAccessHooks {
  emit(bodies: RunnerEventBody[]): void;
  /** The proxy refused a call at a reached limit (once per raise). */
  reached(reached: Reached, report: BudgetReport): void;
}

export async function registerModelAccess(proxy: ProxyPort, record: TaskRecord, hooks: ModelAccessHooks): Promise<ProxyRegistration> {
  const { emit } = hooks;
  const kept = record.meta.proxy;
  const reg = await proxy.register(
    record.taskID,
    budgetOf(record.task, record.meta.limits),
    (usage) => {
      emit([{ type: "usage", data: usage }]);
      const spent = proxy.spent(record.taskID);
      const current = record.meta.proxy;
      if (spent && current) record.updateMeta({ proxy: { ...current, spent } });
    },
    (reached, report) => hooks.reached(reached, report),
    kept ?? {},
  );
  record.updateMeta({ proxy: { token: reg.token, startedAt: kept?.startedAt ?? Date.now(), spent: kept?.spent } });
  return reg;
}
