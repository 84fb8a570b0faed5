/**
 * The task's side of its egress (internal to task/): what its record holds, handed to the
 * egress policy (runner/egress/task-egress.ts), which alone decides what the task reaches.
 * `openEgress` opens the task's proxy in a phase (the setup phase, the agent phase, or the
 * agent phase again after a restart); `allowEgress` applies the user's `egress.allow` and
 * keeps the rule in the record, so a proxy opened again has it too.
 */
import type { RunnerEventBody } from "../../shared/events.ts";
import { allowTaskEgress, type EgressDeps, openTaskEgress, type TaskEgressPolicy } from "../egress/index.ts";
import type { EgressPhase } from "../ports.ts";
import type { EgressQuestions } from "./egress-questions.ts";
import type { TaskRecord } from "./task-record.ts";

function egressPolicyOf(record: TaskRecord): TaskEgressPolicy {
  const network = record.task.environment?.network;
  return { ...(network ? { network } : {}), allowed: record.meta.egressAllowed ?? [] };
}

/** `questions`: where an `ask` task's agent phase asks its owner about an attempt no rule allows. */
export async function openEgress(
  deps: EgressDeps & { questions?: EgressQuestions },
  record: TaskRecord,
  phase: EgressPhase,
  emit: (bodies: RunnerEventBody[]) => void,
): Promise<void> {
  const { questions } = deps;
  const ask = record.task.mode === "ask" && questions ? (host: string, port: number) => questions.ask(record.taskID, host, port, emit) : undefined;
  await openTaskEgress(deps, record.taskID, egressPolicyOf(record), phase, (data) => emit([{ type: "egress", data }]), ask);
}

export function allowEgress(deps: EgressDeps, record: TaskRecord, rule: string, emit: (bodies: RunnerEventBody[]) => void): void {
  const { allowed, event } = allowTaskEgress(deps, record.taskID, egressPolicyOf(record), rule);
  if (allowed) record.updateMeta({ egressAllowed: allowed });
  emit([event]);
}
