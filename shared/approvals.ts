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
 * the worker's own idea of a prefix is never trusted: the room computes it with `commandPrefix`
 * (approval-rules.ts, free of zod so the phone app bundles it without the schemas).
 */
import { z } from "zod";
import { APPROVAL_KINDS } from "./approval-rules.ts";

export { approvalPrefix, commandPrefix, egressRule, ruleCovers } from "./approval-rules.ts";

export const TaskMode = z.enum(["auto", "plan", "ask"]);
export type TaskMode = z.infer<typeof TaskMode>;

export const ApprovalKind = z.enum(APPROVAL_KINDS);
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
