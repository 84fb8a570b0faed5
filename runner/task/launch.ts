/**
 * Getting a task's worker going (internal to task/): the clone into the task's workspace on
 * its own branch, then the worker started in the sandbox with its model proxy socket (and
 * its egress proxy's, when the runner has environments), told
 * (in the `start` line) where the sandbox lets it see that socket. An expected failure comes
 * back as a `Result`; a sandbox that cannot start throws. The worker runs in the image its
 * environment names when that is another (task-image.ts checked it), else the worker image.
 */
import { join } from "node:path";
import type { RunnerToWorker } from "../../shared/protocol.ts";
import { egressOf } from "../egress/index.ts";
import type { Metrics } from "../metrics.ts";
import type { GitCredentials, GitPort, ProxyPort, Result, Sandbox, SandboxResources, WorkerHandle, WorkerSink } from "../ports.ts";
import { type ModelAccessHooks, registerModelAccess } from "./model-access.ts";
import { branchOf, resourcesFor } from "./spec.ts";
import { type ImagePolicy, taskImageOf } from "./task-image.ts";
import { type EnvironmentDeps, variablesOf } from "./setup-phase.ts";
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
  /** The model proxy as this worker reaches it, for its `start` line. */
  proxy: Extract<RunnerToWorker, { type: "start" }>["proxy"];
}

/** Registers the task with the model proxy and starts its worker in the sandbox. */
export async function launchWorker(deps: LaunchDeps, record: TaskRecord, taskDir: string, sink: WorkerSink, hooks: ModelAccessHooks): Promise<LaunchedWorker> {
  const reg = await registerModelAccess(deps.proxy, record, hooks);
  const image = taskImageOf(record, deps.images);
  const spec = {
    taskID: record.taskID,
    workspaceDir: join(taskDir, "workspace"),
    stateDir: join(taskDir, "state"),
    proxySocketPath: reg.socketPath,
    resources: resourcesFor(record.task.limits, deps.resources),
    ...(deps.environments ? { egress: egressOf(deps.environments, record.taskID) } : {}),
    ...variablesOf(record),
    ...(image ? { image } : {}),
  };
  const started = Date.now();
  const handle = await deps.sandbox.start(spec, sink);
  deps.metrics?.containerStarted(Date.now() - started);
  return { handle, proxy: { socketPath: deps.sandbox.workerProxySocket(spec), token: reg.token } };
}
