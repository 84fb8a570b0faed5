/**
 * The user's `egress.allow` (internal to task/): the task may reach a host for the rest of its
 * run. The egress proxy applies the rule at once, and the task's record keeps it, so the
 * proxy opened again after a restart (`openEgress`, setup-phase.ts) has it too. A rule the
 * proxy does not take is reported in a `log` event.
 */
import type { RunnerEventBody } from "../../shared/events.ts";
import type { EnvironmentDeps } from "./setup-phase.ts";
import type { TaskRecord } from "./task-record.ts";

export function allowEgress(env: EnvironmentDeps, record: TaskRecord, rule: string, emit: (bodies: RunnerEventBody[]) => void): void {
  const allowed = env.egress.allow(record.taskID, rule);
  if (!allowed.ok) {
    emit([{ type: "log", data: { level: "warn", message: `egress rule not applied: ${allowed.error}` } }]);
    return;
  }
  record.updateMeta({ egressAllowed: [...(record.meta.egressAllowed ?? []), rule] });
  emit([{ type: "log", data: { level: "info", message: `egress to ${rule} allowed for the rest of this task` } }]);
}
