/**
 * Internal to the TaskRoom: the questions a task asks its owner (shared/approvals.ts).
 *
 *   approvals       one row per question: opened by a runner's `approval.requested` event,
 *                   closed by a viewer's answer or by the alarm at `expires_at` (then: no)
 *   approval_rules  the "always" answers of this task: (kind, prefix)
 *
 * Everything happens inside the room's transactions, so a question, its answer and the
 * `approval` command the runner gets are stored with the events that tell them, and survive
 * an edge restart. The command reaches the runner at once when it is attached, else at its
 * next `attach` (after a runner restart). Only a viewer answers: the runner's events can open
 * a question, never close one. A plan answered `no`, or left unanswered, ends the task
 * cancelled; "always" to a host also allows it, as the phone's `egress.allow` does. The
 * oldest open question is the task's `pendingApproval` (it "needs you").
 */
import {
  ApprovalKind,
  ErrorCode,
  approvalPrefix,
  isTerminal,
  ruleCovers,
  DEFAULT_APPROVAL_SECONDS,
  type ApprovalDecision,
  type Command,
  type EdgeToRunnerData,
  type PendingApproval,
  type Task,
} from "../../shared/index.ts";
import type { Refusal } from "./commands.ts";
import { frameText, type FrameText } from "./frames.ts";
import type { TaskLog } from "./log.ts";
import type { TaskRoomStore } from "./store.ts";

/** A viewer's answer as the room's commands carry it. */
export type ApprovalAnswer = { kind: "approval"; approvalID: string; decision: ApprovalDecision; text?: string };

type ApprovalRow = { id: string; kind: string; subject: string; prefix: string | null; requested_at: string; expires_at: number };

/** What the room does after an approval transaction: frames for the runner, a push, a cancel, a host to allow. */
export type ApprovalEffects = { commands: FrameText<EdgeToRunnerData>[]; opened: boolean; cancel: { by: string } | null; allowHost?: { host: string; by: string } };

export class RoomApprovals {
  constructor(
    private readonly sql: SqlStorage,
    private readonly store: TaskRoomStore,
    private readonly log: TaskLog,
  ) {
    this.createTables();
  }

  createTables(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS approvals (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        prefix TEXT,
        requested_at TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        closed INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS approval_rules (kind TEXT NOT NULL, prefix TEXT NOT NULL, PRIMARY KEY (kind, prefix));
    `);
  }

  /**
   * Opens the questions among a runner batch's stored events (inside the batch's transaction).
   * One an "always" rule covers is answered yes at once.
   */
  open(task: Task, events: readonly { type: string; data: Record<string, unknown> }[]): ApprovalEffects {
    const effects: ApprovalEffects = { commands: [], opened: false, cancel: null };
    for (const event of events) {
      if (event.type !== "approval.requested") continue;
      const { approvalID, kind, subject } = event.data as { approvalID: string; kind: ApprovalKind; subject: string };
      const seconds = task.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_SECONDS;
      const now = Date.now();
      const inserted = this.sql
        .exec(
          "INSERT OR IGNORE INTO approvals (id, kind, subject, prefix, requested_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
          approvalID,
          kind,
          subject,
          approvalPrefix(kind, subject) ?? null,
          new Date(now).toISOString(),
          now + seconds * 1000,
        ).rowsWritten;
      if (inserted === 0) continue;
      const rule = this.rules().find((r) => ruleCovers(r, kind, subject));
      if (rule) effects.commands.push(this.close(task, approvalID, { decision: "yes", by: "rule", rule: rule.prefix }, true));
      else effects.opened = true;
    }
    if (effects.commands.length > 0 || effects.opened) this.refresh(task);
    return effects;
  }

  /** Why a viewer's answer is refused, or null (before any write). */
  refuse(task: Task, answer: ApprovalAnswer): Refusal | null {
    if (isTerminal(task.status)) return { code: ErrorCode.TaskFinished, message: `task ${task.id} is ${task.status}` };
    const row = this.sql.exec<ApprovalRow & { closed: number }>("SELECT * FROM approvals WHERE id = ?", String(answer.approvalID)).toArray()[0];
    if (!row) return { code: ErrorCode.NotFound, message: `task ${task.id} has no approval ${answer.approvalID}` };
    if (row.closed) return { code: ErrorCode.Conflict, message: `approval ${answer.approvalID} is already answered or expired` };
    const plan = row.kind === "plan";
    const fits = plan ? answer.decision !== "always" : answer.decision !== "edit";
    if (!fits) return { code: ErrorCode.InvalidBody, message: plan ? "a plan takes yes, edit or no" : `a ${row.kind} takes yes, no or always` };
    const text = typeof answer.text === "string" ? answer.text.trim() : undefined;
    if ((answer.decision === "edit") !== (text !== undefined && text !== "")) return { code: ErrorCode.InvalidBody, message: "text goes with edit, and only with edit" };
    return null;
  }

  /** Closes a question with a viewer's answer (inside `commit`, after `refuse`); returns the log `seq` of the answer. */
  answer(task: Task, by: string, answer: ApprovalAnswer): { seq: number; effects: ApprovalEffects } {
    const row = this.row(answer.approvalID)!;
    const text = answer.text?.trim();
    if (answer.decision === "always" && row.prefix !== null) {
      this.sql.exec("INSERT OR IGNORE INTO approval_rules (kind, prefix) VALUES (?, ?)", row.kind, row.prefix);
    }
    const approved = answer.decision !== "no";
    const commands = [this.close(task, row.id, { decision: answer.decision, by, ...(text ? { text } : {}) }, approved, text)];
    const seq = task.lastSeq;
    if (answer.decision === "always" && row.prefix !== null) {
      // The new rule also answers the questions already open that it covers.
      const rule = { kind: ApprovalKind.parse(row.kind), prefix: row.prefix };
      for (const open of this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE closed = 0 ORDER BY requested_at, id").toArray()) {
        if (ruleCovers(rule, ApprovalKind.parse(open.kind), open.subject)) commands.push(this.close(task, open.id, { decision: "yes", by: "rule", rule: row.prefix }, true));
      }
    }
    this.refresh(task);
    const cancel = row.kind === "plan" && !approved ? { by } : null;
    // "Always" to a host is the phone's "Allow": the runner's egress proxy keeps the host for the rest of the task.
    const allowHost = row.kind === "egress" && answer.decision === "always" && row.prefix !== null ? { host: row.prefix, by } : undefined;
    return { seq, effects: { commands, opened: false, cancel, ...(allowHost ? { allowHost } : {}) } };
  }

  /** Closes every question past its time as no (inside `commit`). */
  expire(task: Task, now: number): ApprovalEffects {
    const effects: ApprovalEffects = { commands: [], opened: false, cancel: null };
    const due = this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE closed = 0 AND expires_at <= ? ORDER BY expires_at", now).toArray();
    for (const row of due) {
      this.sql.exec("UPDATE approvals SET closed = 1 WHERE id = ?", row.id);
      const afterSeconds = Math.max(0, Math.round((now - Date.parse(row.requested_at)) / 1000));
      this.log.appendEdge(task, "approval.expired", { approvalID: row.id, afterSeconds });
      effects.commands.push(this.command(task, row.id, false));
      if (row.kind === "plan") effects.cancel = { by: "approval expired" };
    }
    if (due.length > 0) this.refresh(task);
    return effects;
  }

  /** The task ended: its open questions are moot and it needs no one (inside `commit`). */
  settle(task: Task): void {
    if (!task.pendingApproval) return;
    this.sql.exec("UPDATE approvals SET closed = 1 WHERE closed = 0");
    this.refresh(task);
  }

  /** When the next open question expires (epoch milliseconds), null when none is open. */
  nextDue(): number | null {
    return this.sql.exec<{ m: number | null }>("SELECT MIN(expires_at) AS m FROM approvals WHERE closed = 0").one().m;
  }

  private close(task: Task, approvalID: string, data: Record<string, unknown>, approved: boolean, text?: string): FrameText<EdgeToRunnerData> {
    this.sql.exec("UPDATE approvals SET closed = 1 WHERE id = ?", approvalID);
    this.log.appendEdge(task, "approval.answered", { approvalID, ...data });
    return this.command(task, approvalID, approved, text);
  }

  /** Stores the runner's `approval` command under the `seq` of the event just appended. */
  private command(task: Task, approvalID: string, approved: boolean, text?: string): FrameText<EdgeToRunnerData> {
    const command: Command = { seq: task.lastSeq, kind: "approval", approvalID, approved, ...(text ? { text } : {}) };
    this.store.insertCommand(command);
    return frameText<EdgeToRunnerData>({ type: "command", taskID: task.id, command });
  }

  /** Sets the task's `pendingApproval` to the oldest open question, and saves it. */
  private refresh(task: Task): void {
    const row = this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE closed = 0 ORDER BY requested_at, id LIMIT 1").toArray()[0];
    task.pendingApproval = row ? pendingOf(row) : null;
    this.store.saveTask(task);
  }

  private row(id: string): ApprovalRow | undefined {
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ? AND closed = 0", id).toArray()[0];
  }

  private rules(): { kind: ApprovalKind; prefix: string }[] {
    return this.sql.exec<{ kind: ApprovalKind; prefix: string }>("SELECT kind, prefix FROM approval_rules").toArray();
  }
}

function pendingOf(row: ApprovalRow): PendingApproval {
  return {
    approvalID: row.id,
    kind: ApprovalKind.parse(row.kind),
    subject: row.subject,
    ...(row.prefix !== null ? { prefix: row.prefix } : {}),
    requestedAt: row.requested_at,
    expiresAt: new Date(row.expires_at).toISOString(),
  };
}
