/**
 * A pooled worker container (internal to sandbox/): made and started by `DockerSandbox.prestart`
 * exactly as a task's worker is, attached before its start with the stream paused, so not a
 * byte it prints is lost and none is read until a task takes it. `assign` hands the stream to a
 * `DockerWorker` for the task (its output from then on goes to the task's sink) and renames
 * the container `tether-task-<taskID>`, since its labels, fixed at creation, name no task.
 * `stopped` resolves when the container stops while it waits, so the pool replaces it.
 */
import type Docker from "dockerode";
import type { Logger } from "pino";
import { DockerWorker } from "./docker-worker.ts";
import type { SandboxSpec, WarmSpec, WarmWorker, WorkerHandle, WorkerSink } from "../ports.ts";

/** The name of a pooled worker waiting for a task, and of one a task took (`docker ps` shows which). */
export const poolContainerName = (slotID: string) => `tether-slot-${slotID}`;
export const pooledTaskContainerName = (taskID: string) => `tether-task-${taskID}`;

export interface WarmHooks {
  /** Gives the worker's uid the task's workspace and state (the clone is the runner's). */
  prepare(spec: SandboxSpec): Promise<void>;
  log(taskID: string): Logger | undefined;
  /** Whether the task's resources are the ones the worker was made with. */
  sameResources(spec: SandboxSpec): boolean;
}

export class DockerWarmWorker implements WarmWorker {
  readonly id: string;
  readonly stopped: Promise<void>;
  private taken = false;

  constructor(
    private readonly container: Docker.Container,
    readonly imageID: string,
    private readonly stream: NodeJS.ReadWriteStream,
    private readonly warm: WarmSpec,
    private readonly hooks: WarmHooks,
  ) {
    this.id = container.id;
    // A wait that fails (the engine is gone) counts as stopped too: the pool makes a new one.
    this.stopped = container.wait().then(
      () => undefined,
      () => undefined,
    );
  }

  async assign(spec: SandboxSpec, sink: WorkerSink): Promise<WorkerHandle> {
    if (this.taken) throw new Error(`pooled worker ${this.id} was already given to a task`);
    if (spec.env && Object.keys(spec.env).length > 0) throw new Error("a pooled worker cannot take a task with environment variables");
    if (!this.hooks.sameResources(spec)) throw new Error("a pooled worker cannot take a task with other resources than its own");
    if (Boolean(spec.egress) !== Boolean(this.warm.egress)) throw new Error("a pooled worker's egress does not match the task's");
    this.taken = true;
    await this.hooks.prepare(spec);
    const log = this.hooks.log(spec.taskID);
    const worker = new DockerWorker(this.container, spec.taskID, this.stream, sink, log).watch();
    this.stream.resume();
    void this.container.rename({ name: pooledTaskContainerName(spec.taskID) }).catch((err: Error) => log?.warn({ err: err.message }, "could not rename the pooled container"));
    log?.info({ containerID: this.id, slotID: this.warm.slotID }, "pooled container taken");
    return worker;
  }

  async discard(): Promise<void> {
    this.taken = true;
    (this.stream as NodeJS.ReadWriteStream & { destroy?: () => void }).destroy?.();
    await this.container.remove({ force: true }).catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 404 && err.statusCode !== 409) throw err;
    });
  }
}
