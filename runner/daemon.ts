/**
 * The runner daemon: recovers what the journal holds, keeps the control socket to the edge,
 * takes assignments up to its capacity and runs each as a `TaskRun`.
 *
 * Start-up: every journaled task gets its run back, `sandbox.recover` re-attaches to the
 * workers still there (their output replays and is deduped by wseq), workers of no journaled
 * task are removed, then the control socket says hello with the held tasks.
 * Stop (SIGTERM): no new tasks, sockets closed, journal flushed, workers left running for the
 * next start. Drain: no new tasks, wait until every held task is finished and acked, then stop.
 * With `poolSize`, a `WorkerPool` keeps workers started ahead: a task that fits takes one (its
 * slot's directory becomes the task's), the pool refills whenever the held tasks change, and
 * pooled workers and active tasks together stay within the capacity.
 * A full journal disk (`JournalSpace`): no new tasks while it lasts, the edge told why in
 * `hello { draining }`; what the tasks write waits in memory for room, nothing is dropped.
 */
import { writeFileSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { Assignment, HeldTask } from "../shared/protocol.ts";
import { HEARTBEAT_SECONDS } from "../shared/sockets.ts";
import type { BackoffOptions } from "../shared/backoff.ts";
import { ControlLink, type LinkState, TaskChannel } from "./link/index.ts";
import { Metrics } from "./metrics.ts";
import { JournalSpace, type LocalStatus, type PoolSlot, TaskRun, type TaskRunDeps, type TaskRow, WorkerPool } from "./task/index.ts";

export interface DaemonOptions extends Omit<TaskRunDeps, "openChannel" | "forget" | "metrics" | "space"> {
  edgeURL: string;
  credential: string;
  version: string;
  labels: string[];
  capacity: number;
  batchMaxEvents: number;
  batchMaxMs: number;
  backoff?: BackoffOptions;
  /** Workers kept started ahead of their tasks (the pool; Docker only); 0 or absent: none. */
  poolSize?: number;
  /** The model proxy's socket directory, where pool slots make theirs. */
  proxySocketDir?: string;
  /** How often writes kept for room on a full journal disk are tried again, at first (default 1 s). */
  spaceRetryMs?: number;
  /** Called once when the edge refuses the credential; the daemon has stopped its links. */
  onFatal?(reason: string): void;
}

export interface RunnerState {
  pid: number;
  runnerID: string | null;
  link: LinkState;
  draining: boolean;
  updatedAt: string;
  tasks: { taskID: string; epoch: number; status: LocalStatus }[];
}

export class Daemon {
  readonly metrics: Metrics;
  readonly space: JournalSpace;
  private readonly runs = new Map<string, TaskRun>();
  private readonly control: ControlLink;
  private runnerID: string | null = null;
  private heartbeatMs = HEARTBEAT_SECONDS * 1000;
  private accepting = true;
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  private readonly log: Logger;
  private readonly pool: WorkerPool | undefined;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.logger;
    this.space = new JournalSpace(() => opts.journal.probe(), opts.logger.child({ part: "journal" }), {
      retryMs: opts.spaceRetryMs,
      changed: () => this.control.hello(),
    });
    this.metrics = new Metrics({
      tasksRunning: () => [...this.runs.values()].filter((r) => r.active).length,
      eventsPending: () => opts.journal.pendingCount,
      connected: () => this.control.state === "connected",
    });
    this.pool =
      opts.poolSize && opts.sandbox.prestart
        ? new WorkerPool({
            sandbox: opts.sandbox,
            size: opts.poolSize,
            home: opts.home,
            proxySocketDir: opts.proxySocketDir ?? join(opts.home, "proxy"),
            ...(opts.environments ? { environments: opts.environments } : {}),
            resources: opts.resources,
            ...(opts.diskMB ? { diskMB: opts.diskMB } : {}),
            room: () => (this.accepting ? opts.capacity - this.activeCount() : 0),
            logger: opts.logger.child({ component: "pool" }),
          })
        : undefined;
    this.control = new ControlLink(
      {
        edgeURL: opts.edgeURL,
        credential: opts.credential,
        version: opts.version,
        labels: opts.labels,
        capacity: () => (this.accepting ? opts.capacity : 0),
        held: () => this.held(),
        draining: () => this.drainingReason(),
        logger: opts.logger.child({ link: "control" }),
        backoff: opts.backoff,
      },
      {
        welcome: (info) => {
          this.runnerID = info.runnerID;
          this.heartbeatMs = info.heartbeatSeconds * 1000;
          this.log.info({ runnerID: info.runnerID, heartbeatSeconds: info.heartbeatSeconds, leaseSeconds: info.leaseSeconds }, "connected to the edge");
          this.writeState();
        },
        assign: (assignment) => this.assign(assignment),
        revoke: (taskID, epoch, reason) => {
          const run = this.runs.get(taskID);
          if (run && run.epoch === epoch) void run.revoke(reason);
        },
        fatal: (reason) => {
          this.log.error({ reason }, "the edge refused this runner");
          this.writeState();
          opts.onFatal?.(reason);
        },
        connected: (count) => {
          if (count > 1) this.metrics.count("reconnects");
          this.writeState();
        },
        disconnected: () => this.writeState(),
      },
    );
  }

  get link(): LinkState {
    return this.control.state;
  }

  get tasks(): ReadonlyMap<string, TaskRun> {
    return this.runs;
  }

  /** Recovers journaled tasks and their workers, removes orphans, then connects. */
  async start(): Promise<void> {
    const rows = this.opts.journal.tasks();
    for (const row of rows) this.runs.set(row.taskID, this.newRun(row));
    // A worker that came from the pool has no task label: the journal's container ID says whose it is.
    const pooled = new Map(rows.flatMap((r) => (r.containerID ? [[r.containerID, r.taskID] as const] : [])));
    const handles = await this.opts.sandbox.recover((taskID) => this.runs.get(taskID)?.sink, pooled);
    const byTask = new Map(handles.map((h) => [h.taskID, h]));
    const removed = await this.opts.sandbox.removeOrphans(new Set(rows.map((r) => r.taskID)), pooled);
    if (removed.length > 0) this.log.info({ removed }, "removed workers of no journaled task");
    for (const row of rows) {
      const run = this.runs.get(row.taskID)!;
      await run.resume(byTask.get(row.taskID));
    }
    if (rows.length > 0) this.log.info({ tasks: rows.map((r) => r.taskID), reattached: handles.length }, "recovered journaled tasks");
    await this.pool?.start(new Set(rows.flatMap((r) => (r.workspace ? [dirname(r.workspace)] : []))));
    this.control.start();
    this.writeState();
  }

  /** Stops taking tasks and closes every socket; workers keep running, the pool's waiting ones go. */
  async stop(): Promise<void> {
    this.accepting = false;
    await this.pool?.drain();
    this.space.stop();
    await this.control.stop();
    await Promise.all([...this.runs.values()].map((r) => r.detach()));
    this.writeState();
    this.opts.journal.close();
  }

  /** Stops taking tasks, waits until every held task is finished and acked, then stops. */
  async drain(): Promise<void> {
    this.accepting = false;
    this.draining = true;
    this.pool?.fill();
    this.control.hello();
    this.writeState();
    if (this.runs.size > 0) {
      this.log.info({ tasks: [...this.runs.keys()] }, "draining: waiting for held tasks to finish");
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    await this.stop();
  }

  /** Why the runner takes no new tasks, when it takes none. */
  private drainingReason(): string | null {
    if (this.draining) return "draining: the runner stops once its tasks end";
    return this.space.reason;
  }

  private held(): HeldTask[] {
    return [...this.runs.values()].map((r) => ({ taskID: r.taskID, epoch: r.epoch }));
  }

  private assign(assignment: Assignment): void {
    const taskID = assignment.task.id;
    const existing = this.runs.get(taskID);
    if (existing && existing.epoch === assignment.epoch) {
      this.control.accept(taskID, assignment.epoch);
      return;
    }
    if (!this.accepting) {
      this.control.reject(taskID, assignment.epoch, this.draining ? "the runner is draining" : "the runner is stopping");
      return;
    }
    if (this.space.reason) {
      this.control.reject(taskID, assignment.epoch, this.space.reason);
      return;
    }
    const active = this.activeCount(taskID);
    if (active >= this.opts.capacity) {
      this.control.reject(taskID, assignment.epoch, `the runner is at capacity (${active} of ${this.opts.capacity})`);
      return;
    }
    this.takeOver(assignment, existing).catch((err: unknown) => {
      this.space.noteFailure(err);
      this.log.error({ err, taskID }, "could not take the task");
      this.control.reject(taskID, assignment.epoch, "the runner could not take the task");
    });
  }

  private async takeOver(assignment: Assignment, older: TaskRun | undefined): Promise<void> {
    const taskID = assignment.task.id;
    if (older) await older.revoke(`reassigned at epoch ${assignment.epoch}`);
    // A pool slot's directory becomes the task's; its worker waits there for the task.
    const slot = this.pool?.take(assignment.task);
    const run = this.newRun(this.opts.journal.addTask(assignment, join(slot?.dir ?? join(this.opts.home, "tasks", taskID), "workspace")), slot);
    this.runs.set(taskID, run);
    this.pool?.fill();
    this.metrics.count("tasksAccepted");
    this.control.accept(taskID, assignment.epoch);
    this.log.info({ taskID, epoch: assignment.epoch }, "task accepted");
    this.writeState();
    await run.begin();
  }

  /** Tasks not finished, `except` one. */
  private activeCount(except?: string): number {
    return [...this.runs.values()].filter((r) => r.active && r.taskID !== except).length;
  }

  private newRun(row: TaskRow, slot?: PoolSlot): TaskRun {
    return new TaskRun(
      {
        ...this.opts,
        metrics: this.metrics,
        space: this.space,
        openChannel: (id, epoch, outbox, handlers) =>
          new TaskChannel(
            {
              edgeURL: this.opts.edgeURL,
              credential: this.opts.credential,
              taskID: id,
              epoch,
              outbox,
              logger: this.opts.logger.child({ taskID: id, link: "data" }),
              metrics: this.metrics,
              batchMaxEvents: this.opts.batchMaxEvents,
              batchMaxMs: this.opts.batchMaxMs,
              heartbeatMs: this.heartbeatMs,
              backoff: this.opts.backoff,
            },
            handlers,
          ),
        forget: (id) => {
          if (this.runs.get(id)?.status === "gone") this.runs.delete(id);
          this.writeState();
          if (this.runs.size === 0) for (const w of this.idleWaiters.splice(0)) w();
          this.pool?.fill();
        },
      },
      row,
      slot,
    );
  }

  /** What `tether-runner status` reads: written on every change of link or tasks. */
  private writeState(): void {
    const state: RunnerState = {
      pid: process.pid,
      runnerID: this.runnerID,
      link: this.control?.state ?? "connecting",
      draining: this.draining,
      updatedAt: new Date().toISOString(),
      tasks: [...this.runs.values()].map((r) => ({ taskID: r.taskID, epoch: r.epoch, status: r.status })),
    };
    const path = join(this.opts.home, "state.json");
    try {
      writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      this.log.warn({ err }, "could not write state.json");
    }
  }
}
