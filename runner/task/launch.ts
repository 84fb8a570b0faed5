/**
 * Getting a task's worker going (internal to task/): the clone into the task's workspace on
 * its own branch, then the worker started in the sandbox with its model proxy socket (and
 * its egress proxy's, when the runner has environments), told
 * (in the `start` line) where the sandbox lets it see that socket. A task that took a pool
 * slot gets the slot's waiting worker, its sockets moved into the slot's mounted directories;
 * when that worker cannot be used, a new one the usual way. The worker runs in the image its
 * environment names when that is another (task-image.ts checked it; such a task takes no
 * slot), else the worker image. An expected failure comes back as a `Result`; a sandbox that
 * cannot start throws.
 */
import { join } from "node:path";
import type { Logger } from "pino";
import type { RunnerToWorker } from "../../shared/protocol.ts";
import { egressOf } from "../egress/index.ts";
import type { Metrics } from "../metrics.ts";
import type { GitCredentials, GitPort, ProxyPort, Result, Sandbox, SandboxResources, SandboxSpec, WorkerHandle, WorkerSink } from "../ports.ts";
import { type ModelAccessHooks, registerModelAccess } from "./model-access.ts";
import { moveSocketInto, type PoolSlot } from "./pool-slot.ts";
import { branchOf, resourcesFor } from "./spec.ts";
import { type EnvironmentDeps, variablesOf } from "./setup-phase.ts";
import { openEgress } from "./task-egress.ts";
import { type ImagePolicy, taskImageOf } from "./task-image.ts";
import type { TaskRecord } from "./task-record.ts";

export interface LaunchDeps {
  git: GitPort;
  sandbox: Sandbox;
  proxy: ProxyPort;
  metrics?: Metrics;
  credentials: GitCredentials;
  cloneDepth: number;
  resources: SandboxResources;
  /** Setup phases, egress and the setup cache; without them a task has no setup and no network. */
  environments?: EnvironmentDeps;
  /** The worker image and the others environments may name; without it, only the worker image. */
  images?: ImagePolicy;
}

/** Clones the task's repository into `<taskDir>/workspace` and records the base commit and branch. */
export async function cloneWorkspace(deps: LaunchDeps, record: TaskRecord, taskDir: string): Promise<Result> {
  const { repo } = record.task;
  const branch = branchOf(record.taskID);
  const cloned = await deps.git.clone({
    url: repo.url,
    ref: repo.ref,
    dir: join(taskDir, "workspace"),
    branch,
    depth: deps.cloneDepth || undefined,
    credentials: deps.credentials,
  });
  if (!cloned.ok) return cloned;
  record.updateMeta({ baseRef: cloned.value, branch });
  return { ok: true, value: undefined };
}

export interface LaunchedWorker {
  handle: WorkerHandle;
  /** The worker came from the pool. */
  pooled: boolean;
  /** The model proxy as this worker reaches it, for its `start` line. */
  proxy: Extract<RunnerToWorker, { type: "start" }>["proxy"];
}


/**
 * Registers the task with the model proxy and starts its worker in the sandbox: the slot's
 * pooled worker when the task has one that still waits, otherwise a new one.
 */
export async function launchWorker(
  deps: LaunchDeps,
  record: TaskRecord,
  taskDir: string,
  sink: WorkerSink,
  hooks: ModelAccessHooks,
  slot?: PoolSlot,
  log?: Logger,
): Promise<LaunchedWorker> {
  let reg = await registerModelAccess(deps.proxy, record, hooks);
  const image = taskImageOf(record, deps.images);
  const spec = (socketPath: string) => ({
    taskID: record.taskID,
    workspaceDir: join(taskDir, "workspace"),
    stateDir: join(taskDir, "state"),
    proxySocketPath: socketPath,
    resources: resourcesFor(record.task.limits, deps.resources),
    ...(deps.environments ? { egress: egressOf(deps.environments, record.taskID) } : {}),
    ...variablesOf(record),
    ...(image ? { image } : {}),
  });
  const started = Date.now();
  const pooled = slot ? await startPooled(deps, slot, spec(reg.socketPath), sink, log) : undefined;
  if (slot && !pooled) {
    // The slot's worker was not used: the sockets are made again where a new worker mounts them.
    await slot.release();
    reg = await registerModelAccess(deps.proxy, record, hooks);
    if (deps.environments) await openEgress(deps.environments, record, "agent", hooks.emit);
  }
  const handle = pooled ?? (await deps.sandbox.start(spec(reg.socketPath), sink));
  deps.metrics?.containerStarted(Date.now() - started);
  return { handle, pooled: pooled !== undefined, proxy: { socketPath: deps.sandbox.workerProxySocket(spec(reg.socketPath)), token: reg.token } };
}

/** Moves the task's sockets into the slot's directories and gives the slot's worker the task; undefined when it cannot be used. */
async function startPooled(deps: LaunchDeps, slot: PoolSlot, spec: SandboxSpec, sink: WorkerSink, log: Logger | undefined): Promise<WorkerHandle | undefined> {
  const worker = await slot.claim();
  if (!worker) {
    log?.info({ slotID: slot.id }, "the slot's pooled worker is gone or of another image; starting a new one");
    return undefined;
  }
  try {
    await moveSocketInto(spec.proxySocketPath, slot.proxyDir);
    if (spec.egress && slot.egressDir) await moveSocketInto(spec.egress.socketPath, slot.egressDir);
    return await worker.assign(spec, sink);
  } catch (err) {
    log?.warn({ err: (err as Error).message, slotID: slot.id }, "could not hand the task to its pooled worker; starting a new one");
    await worker.discard().catch(() => undefined);
    return undefined;
  }
}
