/**
 * A task's registration with the model proxy (internal to task/): the budget it gets, its
 * usage and refusals turned into events, and its token and spending kept in the task's
 * record, so a restarted runner registers a running worker again with the same token and
 * what it has already spent.
 */
import type { RunnerEventBody } from "../../shared/events.ts";
import type { ProxyPort, ProxyRegistration } from "../ports.ts";
import { budgetOf } from "./spec.ts";
import type { TaskRecord } from "./task-record.ts";

export async function registerModelAccess(proxy: ProxyPort, record: TaskRecord, emit: (bodies: RunnerEventBody[]) => void): Promise<ProxyRegistration> {
  const kept = record.meta.proxy;
  const reg = await proxy.register(
    record.taskID,
    budgetOf(record.task),
    (usage) => {
      emit([{ type: "usage", data: usage }]);
      const spent = proxy.spent(record.taskID);
      const current = record.meta.proxy;
      if (spent && current) record.updateMeta({ proxy: { ...current, spent } });
    },
    (reason) => emit([{ type: "log", data: { level: "warn", message: `model call refused: ${reason}` } }]),
    kept ?? {},
  );
  record.updateMeta({ proxy: { token: reg.token, startedAt: kept?.startedAt ?? Date.now(), spent: kept?.spent } });
  return reg;
}
