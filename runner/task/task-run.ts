/**
 * One task on this runner, from assignment to the edge's ack of its terminal status:
 *
 *   clone → model proxy registration → sandbox start → `start` line → worker lines → events
 *   → journal → edge; commands in → worker stdin; worker done (or exit, or cancel) →
 *   commit, diff, push, upload diff.patch → `diff` event → terminal `status`; once the edge
 *   acks that status the container, proxy socket, workspace and journal rows go.
 *
 * Every event is journaled before it is sent. Worker lines at or below `lastWseq` are
 * dropped (a re-attached container replays its output from the start). State changes run
 * one at a time on a promise chain so a cancel, an exit and a `done` never interleave.
 */
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { ErrorCode } from "../../shared/errors.ts";
import type { EventData, RunnerEventBody } from "../../shared/events.ts";
import type { Command, Parsed, WorkerToRunner } from "../../shared/protocol.ts";
import type { Journal, TaskMeta, TaskRow } from "./journal.ts";
import type { Metrics } from "../metrics.ts";
import type { ArtifactPort, GitCredentials, GitPort, ProxyPort } from "../ports.ts";
import type { ExitInfo, Sandbox, SandboxResources, WorkerHandle, WorkerSink } from "../sandbox/sandbox.ts";
import type { TaskChannel, TaskChannelHandlers } from "../link/task-channel.ts";
import { publishDiff, redactURL } from "./diff.ts";
import type { PriceTable } from "../proxy/prices.ts";
import { TaskOutbox } from "./outbox.ts";
import { branchOf, budgetOf, isLocalRepoURL, resourcesFor, unpricedBudgetOf, workerTaskOf } from "./spec.ts";

export const NO_MODEL_KEY_REASON = "the runner has no model key (ANTHROPIC_API_KEY)";
export const LOCAL_REPO_REASON = "this runner does not clone repositories from its own disk (a path or file:// URL); it allows that with TETHER_ALLOW_LOCAL_REPOS=true";

export interface TaskRunDeps {
  home: string;
  journal: Journal;
  sandbox: Sandbox;
  proxy: ProxyPort;
  git: GitPort;
  artifacts: ArtifactPort;
  logger: Logger;
  metrics?: Metrics;
  hasModelKey: boolean;
  resources: SandboxResources;
  credentials: GitCredentials;
  push: boolean;
  cloneDepth: number;
  /** Clone repositories given as a path or file:// URL on this host. */
  allowLocalRepos: boolean;
  /** Model prices (the built-in table when absent). */
  prices?: PriceTable;
  stopGraceMs: number;
  workspaceCleanup: "always" | "on-success" | "never";
  /** A task waiting this long for a follow-up finishes as succeeded. */
  idleMs: number;
  /** Builds the task's data channel with these handlers. */
  openChannel(taskID: string, epoch: number, handlers: TaskChannelHandlers): TaskChannel;
  /** The run is over (acked, revoked): the owner drops it. */
  forget(taskID: string): void;
}

type Phase = "preparing" | "running" | "waiting" | "finishing" | "finished" | "gone";
type Outcome = NonNullable<TaskMeta["outcome"]>;

export class TaskRun {
  readonly taskID: string;
  readonly epoch: number;
  private phase: Phase;
  private handle: WorkerHandle | undefined;
  private workerAlive = false;
  private replaying = false;
  private lastWseq: number;
  private lastCommandSeq: number;
  private readonly outbox: TaskOutbox;
  private chain: Promise<void> = Promise.resolve();
  private readonly channel: TaskChannel;
  private readonly log: Logger;
  private readonly taskDir: string;
  private detached = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private silenced = false;
  private early: (() => void)[] | undefined;

  constructor(
    private readonly deps: TaskRunDeps,
    row: TaskRow,
  ) {
    this.taskID = row.taskID;
    this.epoch = row.epoch;
    this.phase = row.status;
    this.lastWseq = row.lastWseq;
    this.lastCommandSeq = row.lastCommandSeq;
    // A recovered worker's output may arrive before `resume`: it waits there, in order, as replay.
    if (row.containerID !== null) {
      this.early = [];
      this.replaying = true;
      this.workerAlive = true;
    }
    this.taskDir = join(deps.home, "tasks", row.taskID);
    this.log = deps.logger.child({ taskID: row.taskID, epoch: row.epoch });
    this.outbox = new TaskOutbox(deps.journal, row.taskID, (rseq) => this.channel.notify(rseq), this.log);
    this.channel = deps.openChannel(row.taskID, row.epoch, {
      commands: (commands) => this.commands(commands),
      acked: (rseq) => this.acked(rseq),
      refused: (code, message) => this.serial(() => this.abandon(`the edge refused the task's data: ${code}: ${message}`)),
      fatal: (reason) => void this.serial(() => this.abandon(`the task's data socket is closed for good: ${reason}`)),
    });
  }

  /** Not finished: counts against capacity. */
  get active(): boolean {
    return this.phase !== "finished" && this.phase !== "gone";
  }

  get status(): Phase {
    return this.phase;
  }

  /** The sink the sandbox feeds with this task's worker output. */
  readonly sink: WorkerSink = {
    line: (parsed, raw) => this.deliver(() => this.line(parsed, raw)),
    stderr: (text) => this.deliver(() => this.stderr(text)),
    exit: (info) => this.deliver(() => this.exited(info)),
  };

  private deliver(fn: () => void): void {
    if (this.detached) return;
    if (this.early) this.early.push(fn);
    else fn();
  }

  /** Starts a newly accepted task. */
  begin(): Promise<void> {
    this.channel.start();
    return this.serial(() => this.prepare());
  }

  /** Continues a journaled task after a runner restart, with its worker if one survived. */
  resume(handle: WorkerHandle | undefined, row: TaskRow): Promise<void> {
    this.channel.start();
    this.handle = handle;
    if (!handle) {
      this.workerAlive = false;
      this.replaying = false;
    }
    const early = this.early ?? [];
    this.early = undefined;
    for (const fn of early) fn();
    return this.serial(async () => {
      // The replayed output may have moved the task on (a `done`, an exit) before this runs.
      switch (this.phase) {
        case "gone":
        case "finished":
          return;
        case "finishing":
          return this.conclude(row.meta.outcome ?? { status: "failed", reason: "the runner restarted while finishing the task" }, false);
        case "preparing":
          if (!handle) {
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
      if (handle) await this.registerProxy(row.meta);
      this.armIdle();
      this.log.info({ phase: this.phase, containerID: handle?.id }, "task resumed after restart");
    });
  }

  /** Leaves the worker running and closes the data socket (SIGTERM); later output is the next runner's. */
  async detach(): Promise<void> {
    this.detached = true;
    clearTimeout(this.idleTimer);
    await this.channel.stop();
  }

  /** The edge withdrew the assignment: stop the worker and forget the task without events. */
  revoke(reason: string): Promise<void> {
    return this.serial(() => this.abandon(reason));
  }

  // ── worker output ─────────────────────────────────────────────────────────

  private line(parsed: Parsed<WorkerToRunner>, raw: string): void {
    if (this.phase === "gone" || this.silenced) return;
    if (!parsed.ok) {
      // A replayed bad line cannot be told from a new one by wseq; lines before the first new good one are replays.
      if (this.replaying) return;
      this.log.warn({ problem: parsed.error.message }, "bad worker line");
      this.emit([{ type: "error", data: { code: ErrorCode.BadWorkerLine, message: `${parsed.error.message.slice(0, 2000)}; line: ${raw.slice(0, 500)}` } }]);
      return;
    }
    const event = parsed.value;
    if (event.wseq <= this.lastWseq) return;
    this.replaying = false;
    this.lastWseq = event.wseq;
    // Usage comes from the model proxy, which measures it; the worker's own count would double it.
    const bodies: RunnerEventBody[] = event.type === "usage" ? [] : [{ type: event.type, data: event.data } as RunnerEventBody];
    if (event.type === "turn.end" && this.phase === "running") {
      bodies.push({ type: "status", data: { status: "waiting" } });
      this.setPhase("waiting");
    }
    this.emit(bodies, { wseq: event.wseq });
    if (event.type === "done") {
      const data = event.data;
      void this.serial(() => this.done(data));
    }
  }

  private stderr(text: string): void {
    if (this.replaying || this.phase === "gone" || this.silenced) return;
    this.log.debug({ stderr: text.slice(0, 2000) }, "worker stderr");
    for (let i = 0; i < text.length && i < 64_000; i += 8000) {
      this.emit([{ type: "log", data: { level: "warn", message: text.slice(i, i + 8000) } }]);
    }
  }

  private exited(info: ExitInfo): void {
    this.workerAlive = false;
    void this.serial(async () => {
      if (this.phase === "finishing" || this.phase === "finished" || this.phase === "gone") return;
      if (this.phase === "waiting" && info.exitCode === 0) {
        this.log.info("worker exited after its turn; a follow-up starts a new one");
        return;
      }
      const reason = info.message || `the worker exited with code ${info.exitCode} before it was done`;
      await this.finish({ status: "failed", reason, exitCode: info.exitCode });
    });
  }

  // ── commands ──────────────────────────────────────────────────────────────

  private commands(commands: Command[]): void {
    for (const command of commands) {
      if (command.seq <= this.lastCommandSeq) continue;
      this.lastCommandSeq = command.seq;
      this.deps.journal.update(this.taskID, { lastCommandSeq: command.seq });
      if (command.kind === "cancel") void this.serial(() => this.cancel());
      else if (command.kind === "finish") void this.serial(() => this.finishByUser());
      else void this.serial(() => this.message(command.text));
    }
  }

  private async finishByUser(): Promise<void> {
    if (!this.active || this.phase === "finishing") return;
    this.deps.journal.updateMeta(this.taskID, { finishRequested: true });
    this.armIdle();
  }

  private async message(text: string): Promise<void> {
    if (!this.active || this.phase === "finishing") {
      this.log.info({ phase: this.phase }, "ignoring a message: the task is over");
      return;
    }
    if (this.handle && this.workerAlive) {
      this.handle.send({ type: "message", text });
      if (this.phase === "waiting") {
        this.setPhase("running");
        this.emit([{ type: "status", data: { status: "running" } }]);
      }
      return;
    }
    if (this.phase === "preparing") return;
    const row = this.deps.journal.task(this.taskID);
    if (this.handle) await this.removeWorker();
    if (await this.startWorker(true, row?.meta ?? {})) this.handle?.send({ type: "message", text });
  }

  private async cancel(): Promise<void> {
    if (this.phase === "finishing" || !this.active) return;
    if (this.handle && this.workerAlive) {
      this.emit([{ type: "log", data: { level: "info", message: `stopping the worker (grace ${this.deps.stopGraceMs / 1000} s)` } }]);
    }
    await this.conclude({ status: "cancelled", reason: "cancelled by a user" }, true);
  }

  private async done(data: EventData<"done">): Promise<void> {
    if (this.phase === "finishing" || !this.active) return;
    await this.conclude(data.ok ? { status: "succeeded" } : { status: "failed", reason: data.summary.slice(0, 2000) || "the agent gave up" }, false);
  }

  /**
   * Decides the outcome (journaled first, so a restart finishes the same way), stops the
   * worker if it still runs, then finishes. `withExitCode` reports the stopped worker's code.
   */
  private async conclude(outcome: Outcome, withExitCode: boolean): Promise<void> {
    this.setPhase("finishing");
    this.deps.journal.updateMeta(this.taskID, { outcome });
    let exitCode: number | null | undefined;
    if (this.handle && this.workerAlive) {
      exitCode = (await this.handle.stop(this.deps.stopGraceMs)).exitCode;
      this.workerAlive = false;
    }
    await this.finish(withExitCode && exitCode !== undefined ? { ...outcome, exitCode } : outcome);
  }

  // ── the steps ─────────────────────────────────────────────────────────────

  private async prepare(): Promise<void> {
    const { assignment } = this.deps.journal.task(this.taskID)!;
    if (!this.deps.hasModelKey) return this.finish({ status: "failed", reason: NO_MODEL_KEY_REASON });
    const task = assignment.task;
    if (!this.deps.allowLocalRepos && isLocalRepoURL(task.repo.url)) return this.finish({ status: "failed", reason: LOCAL_REPO_REASON });
    const unpriced = unpricedBudgetOf(task, this.deps.prices);
    if (unpriced !== null) return this.finish({ status: "failed", reason: unpriced });
    const workspace = join(this.taskDir, "workspace");
    await mkdir(join(this.taskDir, "state"), { recursive: true });
    const branch = branchOf(this.taskID);
    this.emit([{ type: "log", data: { level: "info", message: `cloning ${redactURL(task.repo.url)}${task.repo.ref ? ` at ${task.repo.ref}` : ""}` } }]);
    const cloned = await this.deps.git.clone({
      url: task.repo.url,
      ref: task.repo.ref,
      dir: workspace,
      branch,
      depth: this.deps.cloneDepth || undefined,
      credentials: this.deps.credentials,
    });
    if (!cloned.ok) return this.finish({ status: "failed", reason: `could not clone the repository: ${cloned.error}`.slice(0, 2000) });
    this.deps.journal.updateMeta(this.taskID, { baseRef: cloned.baseRef, branch });
    await this.startWorker(false, { baseRef: cloned.baseRef, branch });
  }

  private async startWorker(resume: boolean, meta: TaskMeta): Promise<boolean> {
    const { assignment } = this.deps.journal.task(this.taskID)!;
    const task = assignment.task;
    try {
      const reg = await this.registerProxy(meta);
      const started = Date.now();
      this.handle = await this.deps.sandbox.start(
        {
          taskID: this.taskID,
          workspaceDir: join(this.taskDir, "workspace"),
          stateDir: join(this.taskDir, "state"),
          proxyDir: reg.proxyDir,
          resources: resourcesFor(task.limits, this.deps.resources),
        },
        this.sink,
      );
      this.deps.metrics?.containerStarted(Date.now() - started);
      this.workerAlive = true;
      this.deps.journal.update(this.taskID, { containerID: this.handle.id });
      this.handle.send({ type: "start", task: workerTaskOf(task, meta.branch), proxy: { socketPath: reg.containerSocketPath, token: reg.token }, resume, lastWseq: this.lastWseq });
      this.setPhase("running");
      this.emit([{ type: "status", data: { status: "running" } }]);
      this.log.info({ containerID: this.handle.id, resume, ms: Date.now() - started }, "worker started");
      return true;
    } catch (err) {
      this.log.error({ err }, "could not start the worker");
      await this.finish({ status: "failed", reason: `could not start the worker: ${(err as Error).message}`.slice(0, 2000) });
      return false;
    }
  }

  private async registerProxy(meta: TaskMeta) {
    const task = this.deps.journal.task(this.taskID)!.assignment.task;
    const reg = await this.deps.proxy.register(
      this.taskID,
      budgetOf(task),
      (usage) => {
        this.emit([{ type: "usage", data: usage }]);
        const spent = this.deps.proxy.spent(this.taskID);
        const current = this.deps.journal.task(this.taskID)?.meta.proxy;
        if (spent && current) this.deps.journal.updateMeta(this.taskID, { proxy: { ...current, spent } });
      },
      (reason) => this.emit([{ type: "log", data: { level: "warn", message: `model call refused: ${reason}` } }]),
      meta.proxy ?? {},
    );
    const startedAt = meta.proxy?.startedAt ?? Date.now();
    this.deps.journal.updateMeta(this.taskID, { proxy: { token: reg.token, startedAt, spent: meta.proxy?.spent } });
    return reg;
  }

  /** Commit, diff, push, upload, then the terminal status (the task's last event). */
  private async finish(outcome: Outcome): Promise<void> {
    this.setPhase("finishing");
    this.deps.journal.updateMeta(this.taskID, { outcome });
    const meta = this.deps.journal.task(this.taskID)!.meta;
    if (meta.baseRef) {
      this.emit(
        await publishDiff({
          git: this.deps.git,
          artifacts: this.deps.artifacts,
          taskID: this.taskID,
          epoch: this.epoch,
          title: this.deps.journal.task(this.taskID)!.assignment.task.title,
          dir: join(this.taskDir, "workspace"),
          baseRef: meta.baseRef,
          branch: meta.branch,
          status: outcome.status,
          push: this.deps.push,
          credentials: this.deps.credentials,
        }),
      );
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

  private acked(rseq: number): void {
    this.outbox.release();
    const row = this.deps.journal.task(this.taskID);
    if (row?.finalRseq != null && rseq >= row.finalRseq && this.phase === "finished" && this.outbox.heldCount === 0) {
      this.phase = "gone";
      void this.serial(() => this.cleanUp(row.meta.outcome?.status === "succeeded"));
    }
  }

  // ── the end ───────────────────────────────────────────────────────────────

  private async cleanUp(succeeded: boolean): Promise<void> {
    await this.removeWorker();
    await this.deps.proxy.unregister(this.taskID);
    const policy = this.deps.workspaceCleanup;
    if (policy === "always" || (policy === "on-success" && succeeded)) await rm(this.taskDir, { recursive: true, force: true });
    this.deps.journal.removeTask(this.taskID);
    await this.channel.stop();
    this.deps.metrics?.count("tasksFinished");
    this.log.info("task done and acked; cleaned up");
    this.deps.forget(this.taskID);
  }

  private async abandon(reason: string): Promise<void> {
    if (this.phase === "gone") return;
    this.phase = "gone";
    clearTimeout(this.idleTimer);
    this.log.warn({ reason }, "abandoning the task");
    if (this.handle && this.workerAlive) await this.handle.stop(this.deps.stopGraceMs);
    this.workerAlive = false;
    await this.removeWorker();
    await this.deps.proxy.unregister(this.taskID);
    if (this.deps.workspaceCleanup !== "never") await rm(this.taskDir, { recursive: true, force: true });
    this.deps.journal.removeTask(this.taskID);
    await this.channel.stop();
    this.deps.forget(this.taskID);
  }

  private async removeWorker(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    if (!handle) return;
    try {
      await handle.remove();
    } catch (err) {
      this.log.warn({ err, containerID: handle.id }, "could not remove the worker");
    }
  }

  private setPhase(phase: "running" | "waiting" | "finishing"): void {
    this.phase = phase;
    this.deps.journal.update(this.taskID, { status: phase });
    this.armIdle();
  }

  /**
   * A waiting task is over, its last turn ended well, when the user asked to finish it, or
   * when it has been left waiting for `idleMs` with no follow-up.
   */
  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.phase !== "waiting" || this.detached) return;
    if (this.deps.journal.task(this.taskID)?.meta.finishRequested) {
      void this.serial(() => this.wrapUp("finished by the user"));
      return;
    }
    const minutes = Math.round(this.deps.idleMs / 60_000);
    this.idleTimer = setTimeout(() => void this.serial(() => this.wrapUp(`no follow-up within ${minutes} minutes of the last turn`)), this.deps.idleMs);
    this.idleTimer.unref();
  }

  private async wrapUp(reason: string): Promise<void> {
    if (this.phase !== "waiting") return;
    // What the worker says while it is stopped (its own "cancelled") is not the task's story.
    this.silenced = true;
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
