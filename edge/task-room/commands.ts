/**
 * Internal to the TaskRoom: the users' commands (a follow-up message, finish, cancel, an
 * egress allowance, a raise of the budget's limits: limits.ts, an approval's answer) and
 * which of them a task takes, as a pure function of the task and its lease.
 */
import { ApprovalDecision, ApprovalID, type BudgetLimits, EGRESS_RULE_PATTERN, ErrorCode, LIMITS, isTerminal, type Task } from "../../shared/index.ts";
import type { ApprovalAnswer } from "./approvals.ts";
import { unstarted } from "./lease.ts";
import { refuseRaise } from "./limits.ts";
import type { Lease } from "./store.ts";

export type UserCommand =
  | { kind: "message"; text: string }
  | { kind: "finish" }
  | { kind: "cancel" }
  | { kind: "egress.allow"; host: string }
  | { kind: "limits"; limits: BudgetLimits }
  | ApprovalAnswer;

/** Why a command is refused; the RPC answers it as an error body, a viewer socket as an error frame. */
export type Refusal = { code: ErrorCode; message: string };

export function refuseCommand(task: Task, lease: Lease | null, command: UserCommand, by: string): Refusal | null {
  if (isTerminal(task.status)) return { code: ErrorCode.TaskFinished, message: `task ${task.id} is ${task.status}` };
  switch (command.kind) {
    case "message": {
      const text = typeof command.text === "string" ? command.text.trim() : "";
      if (text.length === 0 || text.length > LIMITS.maxMessageChars) {
        return { code: ErrorCode.InvalidBody, message: `a message is 1 to ${LIMITS.maxMessageChars} characters` };
      }
      return null;
    }
    case "finish":
      // Only a started task has a turn to wrap up; one no runner has taken is cancelled instead.
      if (unstarted(task, lease)) return { code: ErrorCode.Conflict, message: `task ${task.id} has not started: cancel it instead` };
      return null;
    case "cancel":
      return null;
    case "egress.allow":
      if (typeof command.host !== "string" || command.host.length > 300 || !EGRESS_RULE_PATTERN.test(command.host)) {
        return { code: ErrorCode.InvalidBody, message: "host is a host, *.domain or host:port" };
      }
      return null;
    case "limits":
      return refuseRaise(task, by, command.limits);
    case "approval":
      // Whether the question is open and takes this answer is the approvals' to say (approvals.ts).
      if (!ApprovalID.safeParse(command.approvalID).success || !ApprovalDecision.safeParse(command.decision).success) {
        return { code: ErrorCode.InvalidBody, message: "an answer names an approval and is yes, no, always or edit" };
      }
      return null;
    default:
      return { code: ErrorCode.InvalidBody, message: "a command is a message, a finish, a cancel, an egress allowance a raise of limits or an approval's answer" };
  }
}
