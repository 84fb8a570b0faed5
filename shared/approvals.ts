/**
 * Approvals: a task's mode and the questions it asks its owner.
 *
 *   auto  the agent runs on its own (the default)
 *   plan  the agent's first turn only reads and proposes a plan, then asks; `yes` carries the
 *         plan out, `edit` carries out the owner's text instead, `no` ends the task cancelled
 *   ask   each shell command and each file write asks first; `no` declines that one call,
 *         `always` also answers yes to later calls of the same command prefix or file. Each
 *         network attempt of the agent phase that the task's own allowances do not cover asks
 *         too (the runner asks for it: `kind: "egress"`, subject `host:port`); `always` there
 *         allows the host for the rest of the task, as the phone's "Allow" does
 *
 * The worker asks (an `approval.requested` event on its stdout), the runner relays the event,
 * the TaskRoom holds the question, and only a viewer (a socket frame or
 * `POST /v1/tasks/:id/approvals/:approvalID`) answers. The answer reaches the runner as an
 * `approval` command and the worker as an `approval` line. A question left unanswered for
 * the task's `approvalTimeoutSeconds` counts as `no`. "Always" rules stay in the TaskRoom;
 * the worker's own idea of a prefix is never trusted: the room computes it with `commandPrefix`.
 */
import { z } from "zod";

export const TaskMode = z.enum(["auto", "plan", "ask"]);
export type TaskMode = z.infer<typeof TaskMode>;

export const ApprovalKind = z.enum(["plan", "command", "write", "egress"]);
export type ApprovalKind = z.infer<typeof ApprovalKind>;

/** yes / no / always (ask) and yes / edit / no (plan: approve, edit, reject). */
export const ApprovalDecision = z.enum(["yes", "no", "always", "edit"]);
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/** How long a question waits for its answer, unless the task says otherwise. */
export const DEFAULT_APPROVAL_SECONDS = 30 * 60;
export const ApprovalTimeoutSeconds = z.number().int().min(10).max(24 * 60 * 60);

export const ApprovalID = z.string().regex(/^[\w-]{1,64}$/, "letters, digits, _ and -, at most 64");

/** The question a task waits on, as its record carries it. */
export const PendingApproval = z.object({
  approvalID: ApprovalID,
  kind: ApprovalKind,
  /** The command, the file path, or the plan. */
  subject: z.string().max(8000),
  /** What "always" would cover (a command's prefix, a file's path); absent for a plan. */
  prefix: z.string().max(300).optional(),
  requestedAt: z.string(),
  expiresAt: z.string(),
});
export type PendingApproval = z.infer<typeof PendingApproval>;

/** `POST /v1/tasks/:id/approvals/:approvalID`. */
export const AnswerApprovalRequest = z
  .object({
    decision: ApprovalDecision,
    /** The edited plan (with `edit`). */
    text: z.string().trim().min(1).max(32_000).optional(),
  })
  .strict()
  .refine((a) => (a.decision === "edit") === (a.text !== undefined), "text goes with edit, and only with edit");
export type AnswerApprovalRequest = z.infer<typeof AnswerApprovalRequest>;

/** Characters after which a command is more than its prefix: a rule never covers a chained or substituted command. */
const SHELL_JOINERS = /[;&|`$()<>\n\r\\]/;

/**
 * What an "always" answer to a command covers: its first word, and the second when that is
 * a subcommand (`npm test`, `git status`), not an option or a path.
 */
export function commandPrefix(command: string): string {
  const words = command.trim().split(/\s+/).filter((w) => w !== "");
  const [first = "", second] = words;
  const sub = second !== undefined && /^[a-z][\w:-]*$/.test(second) ? ` ${second}` : "";
  return `${first}${sub}`.slice(0, 300);
}

/** The rule an egress question's `host:port` allows: the host alone for 443 and 80, else `host:port` (the phone's "Allow" takes the same). */
export function egressRule(subject: string): string {
  const m = /^(.*):(\d{1,5})$/.exec(subject.toLowerCase());
  const rule = m && m[2] !== "443" && m[2] !== "80" ? `${m[1]}:${m[2]}` : (m?.[1] ?? subject.toLowerCase());
  return rule.slice(0, 300);
}

/** What "always" covers for a question: the command's prefix, the file's path, the host (and port); nothing for a plan. */
export function approvalPrefix(kind: ApprovalKind, subject: string): string | undefined {
  if (kind === "command") return commandPrefix(subject);
  if (kind === "write") return subject.slice(0, 300);
  if (kind === "egress") return egressRule(subject);
  return undefined;
}

/** True when a remembered rule answers the question: the same prefix, and a command with nothing chained to it. */
export function ruleCovers(rule: { kind: ApprovalKind; prefix: string }, kind: ApprovalKind, subject: string): boolean {
  if (rule.kind !== kind || kind === "plan") return false;
  if (kind === "write") return subject === rule.prefix;
  if (kind === "egress") return egressRule(subject) === rule.prefix;
  if (SHELL_JOINERS.test(subject)) return false;
  const command = subject.trim().replace(/\s+/g, " ");
  return command === rule.prefix || command.startsWith(`${rule.prefix} `);
}
