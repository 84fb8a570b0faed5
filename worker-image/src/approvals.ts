/**
 * The worker's side of approvals (shared/approvals.ts; internal to the worker).
 *
 * In `ask` mode each shell command and each file write (the text editor's create,
 * str_replace and insert) waits for its owner: the worker writes `approval.requested` and
 * holds the call until the runner's `approval` line with the same id. In `plan` mode the
 * first turn may only read (a shell command or a write is answered "not in the planning
 * turn"); its last text is the plan, asked as one question. The worker never decides an
 * answer: an unanswered question stays open until the edge closes it (with no, when it
 * expires), and a cancel ends the wait.
 */
import { randomUUID } from "node:crypto";
import type { ApprovalKind, TaskMode } from "../../shared/approvals.ts";
import type { Emit } from "./tools/tool.ts";

export type ApprovalAnswer = { approved: boolean; text?: string };

/** A tool call held back from running, with what the model reads instead. */
export type Held = { reason: string; summary: string };

const WRITES = new Set(["create", "str_replace", "insert"]);

/** What a tool call would ask about: a shell command or a file write; null for a read. */
export function questionOf(name: string, input: Record<string, unknown>): { kind: Exclude<ApprovalKind, "plan">; subject: string } | null {
  if (name === "bash" && typeof input.command === "string") return { kind: "command", subject: input.command.slice(0, 8000) };
  if (name === "str_replace_based_edit_tool" && typeof input.command === "string" && WRITES.has(input.command)) {
    return { kind: "write", subject: typeof input.path === "string" ? input.path.slice(0, 8000) : "" };
  }
  return null;
}

export const PLANNING_NOTE =
  "This is the planning turn: read what you need (glob, grep, viewing files), then answer with a short numbered plan of the changes you will make. Do not run commands or change files yet: your owner approves the plan first.";

export class ApprovalGate {
  private readonly waiting = new Map<string, (answer: ApprovalAnswer) => void>();

  constructor(
    readonly mode: TaskMode,
    private readonly emit: Emit,
  ) {}

  /** The runner's `approval` line; an id the worker is not waiting on is ignored. */
  answer(approvalID: string, answer: ApprovalAnswer): void {
    const resolve = this.waiting.get(approvalID);
    this.waiting.delete(approvalID);
    resolve?.(answer);
  }

  /** Asks about one question and waits for its answer; a cancel rejects the wait. */
  ask(kind: ApprovalKind, subject: string, signal: AbortSignal): Promise<ApprovalAnswer> {
    const approvalID = randomUUID();
    return new Promise<ApprovalAnswer>((resolve, reject) => {
      if (signal.aborted) return reject(new Error("cancelled"));
      const onAbort = () => {
        this.waiting.delete(approvalID);
        reject(new Error("cancelled"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiting.set(approvalID, (answer) => {
        signal.removeEventListener("abort", onAbort);
        resolve(answer);
      });
      this.emit({ type: "approval.requested", data: { approvalID, kind, subject } });
    });
  }

  /**
   * Whether a tool call may run now: null to run it, else why not. In the planning turn a
   * command or a write is held; in `ask` mode it waits for its owner's answer.
   */
  async gate(name: string, input: Record<string, unknown>, planning: boolean, signal: AbortSignal): Promise<Held | null> {
    const question = questionOf(name, input);
    if (question === null) return null;
    if (planning) return { reason: "Not run: this is the planning turn. Propose the plan first; you act on it once your owner approves.", summary: "not run: planning turn" };
    if (this.mode !== "ask") return null;
    const answer = await this.ask(question.kind, question.subject, signal);
    if (answer.approved) return null;
    return { reason: `Not run: your owner declined this ${question.kind === "command" ? "command" : "file write"}. Do not try it again in another form; go on without it or ask in your answer.`, summary: "declined by the owner" };
  }

  /** The instruction that follows an approved plan: the agent's own, or the owner's edit of it. */
  static planInstruction(answer: ApprovalAnswer): string {
    return answer.text
      ? `Your owner edited the plan. Carry out this plan now:\n\n${answer.text}`
      : "Your owner approved the plan. Carry it out now.";
  }
}
