/**
 * One task on this runner, from assignment to the edge's ack of its terminal status: the
 * state machine.
 *
 *   preparing (clone, setup phase, model proxy, sandbox start, `start` line) → running ⇄ waiting
 *   (waiting also at a reached budget until it is raised: budget-pause.ts)
 *   → finishing (stop the worker, commit, diff, push, upload diff.patch, `diff` event)
 *   → finished (terminal `status` journaled) → gone (acked: container, proxy socket,
 *   workspace and journal row go; or abandoned on the edge's word)
 *
 * Around it: the task's record (task-record.ts), its preparation (prepare.ts), its worker
 * (task-worker.ts) and the worker's output (worker-output.ts), the outbox its data channel
 * sends from (outbox.ts), its timers (timers.ts) and the diff (diff.ts). Every event is
 * journaled before it is sent. State changes run one at a time on a promise chain: a cancel,
 * an exit and a `done` never interleave.
 */
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { EventData, RunnerEventBody } from "../../shared/events.ts";
import type { Command } from "../../shared/protocol.ts";
import type { Metrics } from "../metrics.ts";
import type { ArtifactPort, BudgetReport, DataChannel, DataChannelHandlers, ExitInfo, Outbox, Reached, WorkerHandle, WorkerSink } from "../ports.ts";
import { publishDiff } from "./diff.ts";
import { BudgetPause, limitsOf } from "./budget-pause.ts";
import { deliverAnswer } from "./egress-questions.ts";
import type { Journal, LocalStatus, TaskRow } from "./journal.ts";
import type { JournalSpace } from "./journal-space.ts";
import { TaskOutbox } from "./outbox.ts";
import type { PoolSlot } from "./pool-slot.ts";
import { type PrepareDeps, prepareTask, type SetupAbort } from "./prepare.ts";
import { removesWorkspace, type TaskEnding, type WorkspaceCleanup } from "./spec.ts";
import { fullDiskReason, unmountTaskDisk } from "./task-disk.ts";
import { allowEgress } from "./task-egress.ts";
import { type TaskOutcome, TaskRecord } from "./task-record.ts";
import { TaskWorker } from "./task-worker.ts";
import { type TaskTimerDeps, TaskTimers } from "./timers.ts";
import { WorkerOutput } from "./worker-output.ts";

export interface TaskRunDeps extends PrepareDeps, TaskTimerDeps {
  home: string;
  journal: Journal;
  /** Room on the journal's disk: writes wait for it instead of failing. */
  space: JournalSpace;
  artifacts: ArtifactPort;
  logger: Logger;
  metrics?: Metrics;
  push: boolean;
  stopGraceMs: number;
  workspaceCleanup: WorkspaceCleanup;
  /** Events held in memory past a full outbox before the worker's output is paused (default `HELD_MAX`). */
  outboxHeldMax?: number;
  /** Builds the task's data channel, reading `outbox`, with these handlers. */
  openChannel(taskID: string, epoch: number, outbox: Outbox, handlers: DataChannelHandlers): DataChannel;
  /** The run is over (acked, revoked): the owner drops it. */
  forget(taskID: string): void;
}

export class TaskRun {
  readonly taskID: string;
  readonly epoch: number;
  private phase: LocalStatus;
  private readonly worker: TaskWorker;
  private readonly record: TaskRecord;
  private readonly output: WorkerOutput;
  private readonly outbox: TaskOutbox;
  private readonly channel: DataChannel;
  private chain: Promise<void> = Promise.resolve();
  private readonly log: Logger;
  private readonly taskDir: string;
  private detached = false;
  private readonly timers: TaskTimers;
  /** Aborts the setup phase while it runs (a cancel). */
  private readonly setup: SetupAbort = {};
  private readonly pause: BudgetPause;

  /** `slot`: the pool slot the task took; its directory is the task's (the row's workspace is in it). */
  constructor(
    private readonly deps: TaskRunDeps,
    row: TaskRow,
    slot?: PoolSlot,
  ) {
    this.taskID = row.taskID;
    this.epoch = row.epoch;
    this.phase = row.status;
    this.record = new TaskRecord(deps.journal, row, deps.space);
    this.taskDir = row.workspace ? dirname(row.workspace) : join(deps.home, "tasks", row.taskID);
    this.log = deps.logger.child({ taskID: row.taskID, epoch: row.epoch });
    this.timers = new TaskTimers(this.taskDir, deps);
    // A journaled container may still run: its output waits for `resume`.
    const alive = row.containerID !== null;
    this.output = new WorkerOutput(
      {
        emit: (bodies, opts) => this.emit(bodies, opts),
        turnEnded: () => this.turnEnded(),
        done: (data) => void this.serial(() => this.done(data)),
        exited: (info) => this.exited(info),
      },
      row.lastWseq,
      alive,
      this.log,
    );
    const emit = (bodies: RunnerEventBody[]) => this.emit(bodies);
    const reached = (r: Reached, report: BudgetReport) => void this.serial(() => this.pause.reach(r, report, false));
    this.worker = new TaskWorker({ deps, record: this.record, taskDir: this.taskDir, output: this.output, emit, reached, log: this.log }, alive, slot);
    const phase = () => (this.phase === "running" || this.phase === "waiting" ? this.phase : "other");
    const expire = (reason: string) => void this.serial(() => this.stopForLimit(reason));
    const host = { record: this.record, worker: this.worker, proxy: deps.proxy, log: this.log, emit, phase, setPhase: (p: "running" | "waiting") => this.setPhase(p), rearmLimits: () => this.armLimits(), expire };
    this.pause = new BudgetPause(host, deps.budgetPauseMs);
    this.outbox = new TaskOutbox(this.record, (rseq) => this.channel.notify(rseq), this.log, this.worker, deps.space, deps.outboxHeldMax);
    this.channel = deps.openChannel(row.taskID, row.epoch, this.outbox, {
      commands: (commands) => this.commands(commands),
      acked: (rseq) => this.acked(rseq),
      refused: (code, message) => void this.serial(() => this.abandon(`the edge refused the task's data: ${code}: ${message}`)),
      fatal: (reason) => void this.serial(() => this.abandon(`the task's data socket is closed for good: ${reason}`)),
    });
  }

  /** Not finished: counts against capacity. */
  get active(): boolean {
    return this.phase !== "finished" && this.phase !== "gone";
  }

  get status(): LocalStatus {
    return this.phase;
  }

  /** The sink the sandbox feeds with this task's worker output. */
  get sink(): WorkerSink {
    return this.output.sink;
  }

  /** Starts a newly accepted task. */
  begin(): Promise<void> {
    this.channel.start();
    return this.serial(() => this.prepare());
  }

  /** Continues a journaled task after a runner restart, with its worker if one survived. */
  resume(handle: WorkerHandle | undefined): Promise<void> {
    this.channel.start();
    this.worker.adopt(handle);
    this.output.release(handle !== undefined);
    return this.serial(async () => {
      // The replayed output may have moved the task on (a `done`, an exit) before this runs.
      switch (this.phase) {
        case "gone":
        case "finished":
          return;
        case "finishing":
          return this.conclude(this.record.meta.outcome ?? { status: "failed", reason: "the runner restarted while finishing the task" }, false);
        case "preparing":
          if (!handle) {
            await unmountTaskDisk(this.taskDir, true);
            await rm(this.taskDir, { recursive: true, force: true });
            return this.prepare();
          }
          this.setPhase("running");
          break;
        case "running":
        case "waiting":
          if (!handle && this.phase === "running") {
            return this.finish({ status: "failed", reason: "the worker did not survive while the runner was down" });
          }
          break;
      }
      if (handle) await this.worker.reopenProxies();
      this.pause.restore();
      this.armLimits();
      this.armIdle();
      this.log.info({ phase: this.phase, containerID: handle?.id }, "task resumed after restart");
    });
  }

  /** Leaves the worker running and closes the data socket (SIGTERM); later output is the next runner's. */
  async detach(): Promise<void> {
    this.detached = true;
    this.output.detach();
    this.timers.clear();
    await this.channel.stop();
  }

  /** The edge withdrew the assignment: stop the worker and forget the task without events. */
  revoke(reason: string): Promise<void> {
    return this.serial(() => this.abandon(reason));
  }

  // ── worker output and commands ────────────────────────────────────────────

  private turnEnded(): boolean {
    if (this.phase !== "running") return false;
    this.setPhase("waiting");
    return true;
  }

  private exited(info: ExitInfo): void {
    this.worker.exited();
    void this.serial(async () => {
      if (this.phase === "finishing" || this.phase === "finished" || this.phase === "gone") return;
      if (this.phase === "waiting" && info.exitCode === 0) {
        this.log.info("worker exited after its turn; a follow-up starts a new one");
        return;
      }
      // A worker that fell over on ENOSPC: the full disk is the reason.
      const reason = (await fullDiskReason(this.taskDir, this.deps.diskMB)) ?? (info.message || `the worker exited with code ${info.exitCode} before it was done`);
      await this.finish({ status: "failed", reason, exitCode: info.exitCode });
    });
  }

  private commands(commands: Command[]): void {
    for (const command of commands) {
      if (command.seq <= this.record.lastCommandSeq) continue;
      this.record.update({ lastCommandSeq: command.seq });
      if (command.kind === "cancel") {
        this.setup.abort?.abort();
        void this.serial(() => this.cancel());
      } else if (command.kind === "finish") void this.serial(() => this.finishByUser());
      else if (command.kind === "limits") void this.serial(() => this.pause.raise(command.limits));
      else if (command.kind === "egress.allow") {
        if (this.active && this.deps.environments) allowEgress(this.deps.environments, this.record, command.host, (bodies) => this.emit(bodies));
      } else if (command.kind === "approval") {
        if (this.active) deliverAnswer(command, this.deps.environments?.questions, this.worker);
      } else void this.serial(() => this.message(command.text));
    }
  }

  private async finishByUser(): Promise<void> {
    if (!this.active || this.phase === "finishing") return;
    this.record.updateMeta({ finishRequested: true });
    this.armIdle();
  }

  private async message(text: string): Promise<void> {
    if (!this.active || this.phase === "finishing") {
      this.log.info({ phase: this.phase }, "ignoring a message: the task is over");
      return;
    }
    if (this.worker.running) {
      this.worker.send({ type: "message", text });
      if (this.phase === "waiting" && !this.pause.active) {
        this.setPhase("running");
        this.emit([{ type: "status", data: { status: "running" } }]);
      }
      return;
    }
    if (this.phase === "preparing") return;
    // A new worker would only meet the reached budget: the message is sent again after the raise.
    if (this.pause.active) return this.emit([{ type: "log", data: { level: "warn", message: "the task is paused at its budget: raise the limit, then send the message again" } }]);
    await this.worker.remove();
    if (await this.startWorker(true)) this.worker.send({ type: "message", text });
  }

  private async cancel(): Promise<void> {
    if (this.phase === "finishing" || !this.active) return;
    if (this.worker.running) {
      this.emit([{ type: "log", data: { level: "info", message: `stopping the worker (grace ${this.deps.stopGraceMs / 1000} s)` } }]);
    }
    await this.conclude({ status: "cancelled", reason: "cancelled by a user" }, true);
  }

  private async done(data: EventData<"done">): Promise<void> {
    if (this.phase === "finishing" || !this.active) return;
    const reason = data.ok ? undefined : ((await fullDiskReason(this.taskDir, this.deps.diskMB)) ?? (data.summary.slice(0, 2000) || "the agent gave up"));
    await this.conclude(reason === undefined ? { status: "succeeded" } : { status: "failed", reason }, false);
  }

  // ── the steps ─────────────────────────────────────────────────────────────

  private async prepare(): Promise<void> {
    await this.worker.slotSettled();
    const prepared = await prepareTask(this.deps, this.record, this.taskDir, (bodies) => this.emit(bodies), this.setup);
    // A cancelled setup ends with the cancel that follows in the chain.
    if (!prepared.ok && prepared.error.cancelled) return;
    if (!prepared.ok) return this.finish({ status: "failed", reason: prepared.error.reason });
    await this.startWorker(false);
  }

  private async startWorker(resume: boolean): Promise<boolean> {
    try {
      const started = Date.now();
      const handle = await this.worker.start(resume);
      this.setPhase("running");
      this.emit([{ type: "status", data: { status: "running" } }]);
      this.armLimits();
      this.log.info({ containerID: handle.id, resume, ms: Date.now() - started }, "worker started");
      return true;
    } catch (err) {
      this.log.error({ err }, "could not start the worker");
      await this.finish({ status: "failed", reason: `could not start the worker: ${(err as Error).message}`.slice(0, 2000) });
      return false;
    }
  }

  /**
   * Decides the outcome (journaled first, so a restart finishes the same way), stops the
   * worker if it still runs, then finishes. `withExitCode` reports the stopped worker's code.
   */
  private async conclude(outcome: TaskOutcome, withExitCode: boolean): Promise<void> {
    this.setPhase("finishing");
    this.record.updateMeta({ outcome });
    const exitCode = await this.worker.stop(this.deps.stopGraceMs);
    await this.finish(withExitCode && exitCode !== undefined ? { ...outcome, exitCode } : outcome);
  }

  /** Commit, diff, push, upload, then the terminal status (the task's last event). */
  private async finish(outcome: TaskOutcome): Promise<void> {
    this.timers.clearLimits();
    this.pause.clearTimer();
    this.setPhase("finishing");
    this.record.updateMeta({ outcome });
    const { baseRef, branch } = this.record.meta;
    if (baseRef) {
      const dir = join(this.taskDir, "workspace");
      this.emit(await publishDiff({ ...this.deps, taskID: this.taskID, epoch: this.epoch, title: this.record.task.title, dir, baseRef, branch, status: outcome.status }));
    }
    this.emit([{ type: "status", data: { status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}), ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}) } }], { final: true });
    this.phase = "finished";
    this.log.info({ outcome }, "task finished; waiting for the edge's ack");
  }

  // ── the outbox ────────────────────────────────────────────────────────────

  private emit(bodies: RunnerEventBody[], opts: { wseq?: number; final?: boolean } = {}): void {
    // Nothing follows the terminal status in the log.
    if (this.phase === "gone" || this.phase === "finished") return;
    this.outbox.append(bodies, opts);
  }

  /** The channel has dropped the acked events from the outbox; the end is acked once nothing is held back. */
  private acked(rseq: number): void {
    const finalRseq = this.record.finalRseq;
    if (finalRseq !== null && rseq >= finalRseq && this.phase === "finished" && this.outbox.heldCount === 0) {
      this.leave();
      void this.serial(() => this.tearDown({ kind: "acked", succeeded: this.record.meta.outcome?.status === "succeeded" }));
    }
  }

  // ── the end ───────────────────────────────────────────────────────────────

  private async abandon(reason: string): Promise<void> {
    if (this.phase === "gone") return;
    this.leave();
    this.log.warn({ reason }, "abandoning the task");
    await this.tearDown({ kind: "abandoned", reason });
  }

  /** The task is gone: no more events, no more worker output. */
  private leave(): void {
    this.deps.environments?.questions?.drop(this.taskID);
    this.phase = "gone";
    this.output.mute();
    this.timers.clear();
    this.pause.clearTimer();
  }

  /** Stops and removes the worker, closes the proxy socket, removes the workspace per policy, forgets the task. */
  private async tearDown(ending: TaskEnding): Promise<void> {
    await this.worker.stop(this.deps.stopGraceMs);
    await this.worker.remove();
    await this.worker.closeProxies();
    const removes = removesWorkspace(this.deps.workspaceCleanup, ending);
    await unmountTaskDisk(this.taskDir, removes).catch((err: unknown) => this.log.warn({ err }, "could not unmount the task's disk"));
    if (removes) await rm(this.taskDir, { recursive: true, force: true });
    this.record.remove();
    await this.channel.stop();
    if (ending.kind === "acked") {
      this.deps.metrics?.count("tasksFinished");
      this.log.info("task done and acked; cleaned up");
    }
    this.deps.forget(this.taskID);
  }

  private setPhase(phase: "running" | "waiting" | "finishing"): void {
    this.phase = phase;
    this.record.update({ status: phase });
    this.armIdle();
  }

  /**
   * A waiting task is over, its last turn ended well, when the user asked to finish it, or
   * when it has been left waiting for `idleMs` with no follow-up.
   */
  private armIdle(): void {
    this.timers.clearIdle();
    if (this.phase !== "waiting" || this.detached) return;
    if (this.record.meta.finishRequested) {
      void this.serial(() => this.wrapUp("finished by the user"));
      return;
    }
    if (this.pause.active) return;
    this.timers.armIdle((reason) => void this.serial(() => this.wrapUp(reason)));
  }

  /**
   * Past the task's wall-clock limit the worker is frozen and the task waits for a raise
   * (budget-pause.ts); with its disk full the worker is stopped whatever it is doing and the
   * task fails with the reason.
   */
  private armLimits(): void {
    if (this.detached) return;
    this.timers.armLimits(
      this.record.meta.proxy?.startedAt,
      limitsOf(this.record).timeoutMinutes,
      (reason) => void this.serial(() => this.pause.reach({ limit: "timeoutMinutes", reason }, this.deps.proxy.report(this.taskID), true)),
      (reason) => void this.serial(() => this.stopForLimit(reason)),
    );
  }

  private async stopForLimit(reason: string): Promise<void> {
    if (!this.active || this.phase === "finishing") return;
    this.output.mute();
    await this.conclude({ status: "failed", reason }, false);
  }

  private async wrapUp(reason: string): Promise<void> {
    if (this.phase !== "waiting") return;
    // What the worker says while it is stopped (its own "cancelled") is not the task's story.
    this.output.mute();
    await this.conclude({ status: "succeeded", reason }, false);
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn).catch((err: unknown) => {
      this.log.error({ err }, "task step failed");
    });
    this.chain = next;
    return next;
  }
}
