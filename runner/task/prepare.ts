/**
 * A task's preparation before its worker starts (internal to task/): the runner's refusals
 * (no model key, a repository on the runner's own disk it does not allow, a budget it has no
 * price for, an image it does not allow or that cannot run the agent), the task's bounded disk, the clone into its workspace, then the setup phase
 * when the runner has environments. A refusal or a failure comes back as the task's failure
 * reason; a setup aborted through `setup.abort` (a cancel) comes back as `cancelled`.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { RunnerEventBody } from "../../shared/events.ts";
import type { Result } from "../ports.ts";
import type { PriceTable } from "../proxy/prices.ts";
import { redactURL } from "./diff.ts";
import { cloneWorkspace, type LaunchDeps } from "./launch.ts";
import { runSetupPhase } from "./setup-phase.ts";
import { isLocalRepoURL, unpricedBudgetOf } from "./spec.ts";
import { mountTaskDisk } from "./task-disk.ts";
import { checkTaskImage, taskImageOf } from "./task-image.ts";
import type { TaskRecord } from "./task-record.ts";

export const NO_MODEL_KEY_REASON = "the runner has no model key (ANTHROPIC_API_KEY)";
export const LOCAL_REPO_REASON = "this runner does not clone repositories from its own disk (a path or file:// URL); it allows that with TETHER_ALLOW_LOCAL_REPOS=true";

export interface PrepareDeps extends LaunchDeps {
  hasModelKey: boolean;
  /** Clone repositories given as a path or file:// URL on this host. */
  allowLocalRepos: boolean;
  /** Model prices (the built-in table when absent). */
  prices?: PriceTable;
  /** Each task's directory is a filesystem of this size (task-disk.ts); 0 or absent: no bound. */
  diskMB?: number;
}

/** Holds the setup phase's abort controller while the setup runs, and only then. */
export interface SetupAbort {
  abort?: AbortController;
}

/** Checks, mounts, clones and sets up the task in `taskDir`, ready for its worker. */
export async function prepareTask(
  deps: PrepareDeps,
  record: TaskRecord,
  taskDir: string,
  emit: (bodies: RunnerEventBody[]) => void,
  setup: SetupAbort,
): Promise<Result<void, { reason: string; cancelled: boolean }>> {
  const fail = (reason: string) => ({ ok: false as const, error: { reason, cancelled: false } });
  if (!deps.hasModelKey) return fail(NO_MODEL_KEY_REASON);
  const task = record.task;
  if (!deps.allowLocalRepos && isLocalRepoURL(task.repo.url)) return fail(LOCAL_REPO_REASON);
  const unpriced = unpricedBudgetOf(task, deps.prices);
  if (unpriced !== null) return fail(unpriced);
  const image = await checkTaskImage(deps.sandbox, deps.images, record);
  if (!image.ok) return fail(image.error.slice(0, 2000));
  if (deps.diskMB) {
    const disk = await mountTaskDisk(taskDir, deps.diskMB);
    if (!disk.ok) return fail(disk.error);
  }
  await mkdir(join(taskDir, "state"), { recursive: true });
  emit([{ type: "log", data: { level: "info", message: `cloning ${redactURL(task.repo.url)}${task.repo.ref ? ` at ${task.repo.ref}` : ""}` } }]);
  const cloned = await cloneWorkspace(deps, record, taskDir);
  if (!cloned.ok) return fail(`could not clone the repository: ${cloned.error}`.slice(0, 2000));
  if (!deps.environments) return { ok: true, value: undefined };
  setup.abort = new AbortController();
  try {
    return await runSetupPhase({ ...deps, env: deps.environments, image: taskImageOf(record, deps.images) }, record, taskDir, emit, setup.abort.signal).catch((err: unknown) =>
      fail(`the setup could not run: ${(err as Error).message}`.slice(0, 2000)),
    );
  } finally {
    setup.abort = undefined;
  }
}
