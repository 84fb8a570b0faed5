/**
 * Internal to the TaskRoom: the users' commands (a follow-up message, finish, cancel, an
 * egress allowance) and
 * which of them a task takes, as a pure function of the task and its lease.
 */
import { EGRESS_RULE_PATTERN, ErrorCode, LIMITS, isTerminal, type Task } from "../../shared/index.ts";
import { unstarted } from "./lease.ts";
import type { Lease } from "./store.ts";

export type UserCommand = { kind: "message"; text: string } | { kind: "finish" } | { kind: "cancel" } | { kind: "egress.allow"; host: string };

/** Why a command is refused; the RPC answers it as an error body, a viewer socket as an error frame. */
export type Refusal = { code: ErrorCode; message: string };

export function refuseCommand(task: Task, lease: Lease | null, command: UserCommand): Refusal | null {
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
    default:
      return { code: ErrorCode.InvalidBody, message: "a command is a message, a finish, a cancel or an egress allowance" };
  }
}
