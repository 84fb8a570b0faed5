/**
 * The worker's session: takes the runner's lines (`start`, `message`, `cancel`, end of
 * input), runs user turns one at a time, and ends with `done` and an exit code
 * (0 done, 1 failed, 130 cancelled).
 *
 *   start ─► turn 0 ─► turn.end ─► waiting ─ message ─► turn 1 ─► …
 *                                          ─ end of input ─► done ok, exit 0
 *   cancel at any time ─► the running command is killed ─► done not ok, exit 130
 *   an error in a turn ─► error event ─► done not ok, exit 1
 *
 * A model call refused at a reached budget waits for `budget.raised` and is made again.
 * A `message` during a turn waits for the turn to end. `start` with `resume` loads the saved
 * conversation and waits for a `message`. A `plan` task's turn 0 ends in a plan the owner
 * approves (turn 1 carries it out) or rejects; an `ask` task's commands and writes wait for
 * `approval` lines (approvals.ts).
 */
import type Anthropic from "@anthropic-ai/sdk";
import { ErrorCode } from "../../shared/errors.ts";
import type { RunnerToWorker, WorkerTask } from "../../shared/protocol.ts";
import { loadConversation, saveConversation } from "./conversation-store.ts";
import type { EventsWriter } from "./events-writer.ts";
import { BudgetGate } from "./budget-gate.ts";
import { describeFailure } from "./failure.ts";
import type { ContextState } from "./compaction.ts";
import { ApprovalGate, PLANNING_NOTE } from "./approvals.ts";
import { appendUserText, Cancelled, runTurn } from "./loop.ts";
import { contextWindowOf, createModelClient, DEFAULT_MODEL, MAX_OUTPUT_TOKENS } from "./model-client.ts";
import { systemPrompt } from "./system-prompt.ts";

export const EXIT = { ok: 0, failed: 1, cancelled: 130 } as const;

export interface AgentOptions {
  workspace: string;
  stateDir: string;
  writer: EventsWriter;
  commandTimeoutMs: number;
  /** Model call retries (the SDK's backoff). */
  maxRetries?: number;
}

type StartLine = Extract<RunnerToWorker, { type: "start" }>;
type Phase = "new" | "running" | "waiting" | "finished";

export class Agent {
  private phase: Phase = "new";
  private task: WorkerTask | undefined;
  private client: Anthropic | undefined;
  private model = DEFAULT_MODEL;
  private messages: Anthropic.MessageParam[] = [];
  private context: ContextState = { window: contextWindowOf(DEFAULT_MODEL), lastPromptTokens: 0 };
  private turn = 0;
  private lastText = "";
  private readonly queued: string[] = [];
  private inputEnded = false;
  private controller = new AbortController();
  private readonly budget = new BudgetGate();
  private gate: ApprovalGate | undefined;
  /** A `plan` task's first turn only reads and proposes; this is set once it has. */
  private planning = false;
  private resolveExit!: (code: number) => void;
  /** Resolves with the exit code once `done` is written. */
  readonly exited = new Promise<number>((resolve) => {
    this.resolveExit = resolve;
  });

  constructor(private readonly options: AgentOptions) {}

  private get emit() {
    return this.options.writer.emit.bind(this.options.writer);
  }

  /** One parsed stdin line. */
  handle(line: RunnerToWorker): void {
    if (this.phase === "finished") return;
    switch (line.type) {
      case "start":
        void this.start(line as StartLine);
        return;
      case "message":
        if (this.phase === "new") {
          this.emit({ type: "error", data: { code: ErrorCode.BadRequest, message: "a message came before the start line; ignored" } });
          return;
        }
        this.queued.push(line.text);
        if (this.phase === "waiting") this.next();
        return;
      case "cancel":
        this.cancel();
        return;
      case "budget.raised":
        this.budget.raised();
        break;
      case "approval":
        this.gate?.answer(line.approvalID, { approved: line.approved, ...(line.text ? { text: line.text } : {}) });
        return;
    }
  }

  /** stdin closed: finish once the running turn ends. */
  endOfInput(): void {
    this.inputEnded = true;
    if (this.phase === "new") void this.finish(EXIT.failed, false, "stdin closed before the start line", { code: ErrorCode.BadRequest, message: "stdin closed before the start line" });
    else if (this.phase === "waiting") this.next();
  }

  /** SIGTERM, SIGINT or a `cancel` line. */
  cancel(): void {
    if (this.phase === "finished") return;
    if (this.phase === "running") {
      // The turn unwinds (the command's process group is killed, the stream aborted) and finishes.
      this.controller.abort();
      return;
    }
    void this.finish(EXIT.cancelled, false, "cancelled");
  }

  private async start(line: StartLine): Promise<void> {
    if (this.phase !== "new") {
      this.emit({ type: "error", data: { code: ErrorCode.Conflict, message: "the worker has already started; a second start line is ignored" } });
      return;
    }
    this.phase = "running";
    const { writer } = this.options;
    writer.continueFrom(Math.max(writer.lastWseq, line.lastWseq ?? 0));
    this.task = line.task;
    this.model = line.task.model ?? DEFAULT_MODEL;
    this.client = createModelClient(line.proxy, { maxRetries: this.options.maxRetries });
    this.gate = new ApprovalGate(line.task.mode ?? "auto", this.emit);
    if (line.resume) {
      const loaded = await loadConversation(this.options.stateDir, line.task.taskID);
      if (!loaded.ok) {
        await this.finish(EXIT.failed, false, `cannot resume: ${loaded.reason}`, { code: ErrorCode.WorkerError, message: `cannot resume: ${loaded.reason}` });
        return;
      }
      this.messages = loaded.conversation.messages as Anthropic.MessageParam[];
      this.turn = loaded.conversation.turn;
      this.model = line.task.model ?? loaded.conversation.model;
      this.context.window = contextWindowOf(this.model);
      this.phase = "waiting";
      this.next();
      return;
    }
    this.messages = [{ role: "user", content: line.task.prompt }];
    this.context.window = contextWindowOf(this.model);
    this.planning = line.task.mode === "plan";
    await this.runOneTurn();
  }

  /** From waiting: the next queued message, or the end. */
  private next(): void {
    // A cancel that came after the turn's last check must not be lost.
    if (this.controller.signal.aborted) {
      void this.finish(EXIT.cancelled, false, "cancelled");
      return;
    }
    const text = this.queued.shift();
    if (text !== undefined) {
      this.turn += 1;
      appendUserText(this.messages, text);
      this.phase = "running";
      void this.runOneTurn();
    } else if (this.inputEnded) {
      void this.finish(EXIT.ok, true, this.lastText || "finished");
    }
  }

  private async save(): Promise<void> {
    await saveConversation(this.options.stateDir, { version: 1, taskID: this.task!.taskID, turn: this.turn, model: this.model, messages: this.messages as never });
  }

  private async runOneTurn(): Promise<void> {
    try {
      const result = await runTurn(this.messages, {
        client: this.client!,
        model: this.model,
        maxTokens: MAX_OUTPUT_TOKENS,
        system: this.planning ? `${systemPrompt(this.task!, this.options.workspace)}\n\n${PLANNING_NOTE}` : systemPrompt(this.task!, this.options.workspace),
        ...(this.task!.effort ? { effort: this.task!.effort } : {}),
        prompt: this.task!.prompt,
        context: this.context,
        root: this.options.workspace,
        turn: this.turn,
        budget: this.budget,
        commandTimeoutMs: this.options.commandTimeoutMs,
        emit: this.emit,
        signal: this.controller.signal,
        save: () => this.save(),
        gate: (name, input) => this.gate!.gate(name, input, this.planning, this.controller.signal),
      });
      if (result.text) this.lastText = result.text;
      if (this.controller.signal.aborted) throw new Cancelled("cancelled");
      await this.save();
      if (this.planning) return await this.proposePlan(result.text);
      this.emit({ type: "turn.end", data: { turn: this.turn, stopReason: result.stopReason } });
      this.phase = "waiting";
      this.next();
    } catch (err) {
      if (err instanceof Cancelled || this.controller.signal.aborted) {
        await this.save().catch(() => undefined);
        await this.finish(EXIT.cancelled, false, "cancelled");
        return;
      }
      const failure = describeFailure(err);
      process.stderr.write(`tether-worker: ${failure.message}\n`);
      await this.save().catch(() => undefined);
      await this.finish(EXIT.failed, false, failure.message, failure);
    }
  }

  /**
   * Asks the owner about the planning turn's plan: approved (or edited), the next turn carries
   * it out; declined, the worker waits for the cancel the edge sends with a rejected plan.
   */
  private async proposePlan(plan: string): Promise<void> {
    this.planning = false;
    const answer = await this.gate!.ask("plan", plan.slice(0, 8000) || "(the agent wrote no plan)", this.controller.signal);
    if (!answer.approved) {
      this.phase = "waiting";
      this.next();
      return;
    }
    this.turn += 1;
    appendUserText(this.messages, ApprovalGate.planInstruction(answer));
    await this.runOneTurn();
  }

  private async finish(code: number, ok: boolean, summary: string, error?: { code: string; message: string }): Promise<void> {
    if (this.phase === "finished") return;
    this.phase = "finished";
    if (error) this.emit({ type: "error", data: { code: error.code, message: error.message.slice(0, 8000) } });
    this.emit({ type: "done", data: { ok, summary: summary.slice(0, 8000) } });
    await this.options.writer.flush();
    this.resolveExit(code);
  }
}
