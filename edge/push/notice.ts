/**
 * Which moments of a task reach its owner's devices, and what the push says (internal to
 * edge/ but for the Account and the TaskRoom).
 *
 * A push goes when the task starts to wait for its owner (status `waiting`), when it reaches
 * its budget (an `error` event with code `budget_exceeded`, or a `budget.reached` event),
 * when it asks for an approval (a `approval.requested` event the room holds open), and when
 * it ends (succeeded, failed, cancelled, lost). The Account decides a status
 * moment from its index row before and after the room's report, so each transition pushes
 * once; the room names a budget or an approval moment itself, as it sees the event.
 */
import { ErrorCode, type PushPayload, type Task, type TaskStatus, isTerminal } from "../../shared/index.ts";

export type PushReason = "waiting" | "budget" | "approval" | "ended";

/** The reason a status change pushes, or null when it does not. */
export function statusPushReason(before: TaskStatus | null, after: TaskStatus): PushReason | null {
  if (before === after) return null;
  if (after === "waiting") return "waiting";
  if (isTerminal(after) && (before === null || !isTerminal(before))) return "ended";
  return null;
}

/** True for an event that says the task reached its budget. */
export function reachesBudget(event: { type: string; data: Record<string, unknown> }): boolean {
  return event.type === "budget.reached" || (event.type === "error" && event.data.code === ErrorCode.BudgetExceeded);
}

/** The push for a task: the task's title as the heading, what happened as the text, the task's page to open. */
export function pushPayloadOf(task: Task, reason: PushReason): PushPayload {
  const body =
    reason === "waiting"
      ? "Waiting for you"
      : reason === "budget"
        ? `Reached its budget${task.statusReason ? `: ${task.statusReason}` : ""}`
        : reason === "approval"
          ? `Asks for your approval${task.pendingApproval ? `: ${task.pendingApproval.kind === "plan" ? "a plan" : task.pendingApproval.subject}` : ""}`
          : `${task.status[0]!.toUpperCase()}${task.status.slice(1)}${task.statusReason ? `: ${task.statusReason}` : ""}`;
  return { taskID: task.id, title: task.title, body: body.slice(0, 200), url: `/tasks/${encodeURIComponent(task.id)}` };
}
