/**
 * The task's worker container as its run holds it (internal to task/): the sandbox handle, if
 * any, and whether the container still runs. `start` launches one (launch.ts; the first one
 * from the task's pool slot, if it took one) and sends its `start` line; a journaled container may outlive the runner (`adopt` takes it back after a
 * restart, `reopenProxies` gives it its model and egress proxies again); a worker that exited
 * after its turn keeps its handle until `remove`. It is the outbox's `OutputFlow`: while the
 * outbox is full, the worker's output is paused, and a worker started or adopted meanwhile
 * starts paused.
 */
import type { Logger } from "pino";
import type { RunnerEventBody } from "../../shared/events.ts";
import type { RunnerToWorker } from "../../shared/protocol.ts";
import type { WorkerHandle } from "../ports.ts";
import { type LaunchDeps, launchWorker } from "./launch.ts";
import { type ModelAccessHooks, registerModelAccess } from "./model-access.ts";
import type { OutputFlow } from "./outbox.ts";
import type { PoolSlot } from "./pool-slot.ts";
import { workerTaskOf } from "./spec.ts";
import { openEgress } from "./task-egress.ts";
import type { TaskRecord } from "./task-record.ts";
import type { WorkerOutput } from "./worker-output.ts";

/** What starting the task's worker takes. */
export interface WorkerContext {
  deps: LaunchDeps;
  record: TaskRecord;
  taskDir: string;
  output: WorkerOutput;
  emit: (bodies: RunnerEventBody[]) => void;
  /** The model proxy refused a call at a reached limit. */
  reached: ModelAccessHooks["reached"];
  log: Logger;
}

export class TaskWorker implements OutputFlow {
  private handle: WorkerHandle | undefined;
  private paused = false;

  constructor(
    private readonly context: WorkerContext,
    private alive: boolean,
    /** The pool slot the task took: its first worker is the slot's. */
    private slot?: PoolSlot,
  ) {}

  /** A container is there and runs: it takes messages and is stopped at the end. */
  get running(): boolean {
    return this.handle !== undefined && this.alive;
  }

  /** After a restart: the journaled worker that survived, or none. */
  adopt(handle: WorkerHandle | undefined): void {
    this.handle = handle;
    if (!handle) this.alive = false;
    if (this.paused) handle?.pauseOutput();
  }

  /** Settles once the directories of the pool slot the task took (if any) are made: the preparation works in them. */
  slotSettled(): Promise<void> {
    return this.slot?.settled ?? Promise.resolve();
  }

  /** Launches a worker, records its container and sends its `start` line (`resume`: it picks up the saved conversation). */
  async start(resume: boolean): Promise<WorkerHandle> {
    const { deps, record, taskDir, output, emit, reached, log } = this.context;
    const slot = this.slot;
    this.slot = undefined;
    const { handle, proxy, pooled } = await launchWorker(deps, record, taskDir, output.sink, { emit, reached }, slot, log);
    if (slot) log.info({ slotID: slot.id, pooled }, pooled ? "the task's worker is its slot's pooled one" : "the slot's pooled worker was not used");
    this.handle = handle;
    this.alive = true;
    if (this.paused) handle.pauseOutput();
    record.update({ containerID: handle.id });
    handle.send({ type: "start", task: workerTaskOf(record.task, record.meta.branch), proxy, resume, lastWseq: output.lastWseq });
    return handle;
  }

  /** For a worker that survived a restart: its model proxy socket, and its egress proxy in the agent phase. */
  async reopenProxies(): Promise<void> {
    const { deps, record, emit, reached } = this.context;
    await registerModelAccess(deps.proxy, record, { emit, reached });
    if (deps.environments) await openEgress(deps.environments, record, "agent", emit);
  }

  /** Closes the task's model proxy socket and egress proxy. */
  async closeProxies(): Promise<void> {
    const { deps, record } = this.context;
    await deps.proxy.unregister(record.taskID);
    await deps.environments?.egress.unregister(record.taskID);
  }

  exited(): void {
    this.alive = false;
  }

  send(message: RunnerToWorker): void {
    this.handle?.send(message);
  }

  /** Freezes the worker's processes (a wall-time budget reached); `thaw` lets them run on. */
  async freeze(): Promise<void> {
    if (this.running) await this.handle!.freeze();
  }

  async thaw(): Promise<void> {
    await this.handle?.thaw();
  }

  pause(): void {
    this.paused = true;
    this.handle?.pauseOutput();
  }

  resume(): void {
    this.paused = false;
    this.handle?.resumeOutput();
  }

  /** Stops the worker if it runs (SIGTERM, SIGKILL after `graceMs`): its exit code, or `undefined` when none ran. */
  async stop(graceMs: number): Promise<number | null | undefined> {
    if (!this.handle || !this.alive) return undefined;
    const { exitCode } = await this.handle.stop(graceMs);
    this.alive = false;
    return exitCode;
  }

  /** Removes the container, if there is one, and a pool slot the task did not use; a failure is logged. */
  async remove(): Promise<void> {
    const slot = this.slot;
    this.slot = undefined;
    await slot?.release().catch((err: unknown) => this.log.warn({ err, slotID: slot.id }, "could not release the pool slot"));
    const handle = this.handle;
    this.handle = undefined;
    this.alive = false;
    if (!handle) return;
    try {
      await handle.remove();
    } catch (err) {
      this.log.warn({ err, containerID: handle.id }, "could not remove the worker");
    }
  }

  private get log(): Logger {
    return this.context.log;
  }
}
