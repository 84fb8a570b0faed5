/**
 * The small interfaces the task orchestration depends on, so unit tests pass hand-built
 * fakes: the model proxy (runner/proxy/), git on the host (runner/git/) and the
 * artifact upload (runner/link/artifacts.ts). Expected failures come back as values.
 */
import type { EventData } from "../shared/events.ts";
import type { ChangedFile, DiffStat } from "../shared/task.ts";
import type { GitCredentials } from "./git/git.ts";
import type { ProxyRegistration, ResumeBudget, Spent, TaskBudget } from "./proxy/model-proxy.ts";

export type { GitCredentials };

/**
 * An expected failure as a value, the runner's one result shape (the shape of `Parsed` in
 * shared/protocol.ts too): `{ ok: true, value }` or `{ ok: false, error }`; a `Result<void>`
 * succeeds with `value: undefined`.
 */
export type Result<T = void, E = string> = { ok: true; value: T } | { ok: false; error: E };

export interface ProxyPort {
  register(
    taskID: string,
    budget: TaskBudget,
    onUsage: (u: EventData<"usage">) => void,
    onRefusal: (reason: string) => void,
    resume?: ResumeBudget,
  ): Promise<ProxyRegistration>;
  unregister(taskID: string): Promise<void>;
  spent(taskID: string): Spent | undefined;
}

export interface GitPort {
  /** Clones `url` at `ref` into `dir` on a new `branch`; the value is the commit the diff is made against. */
  clone(opts: { url: string; ref?: string; dir: string; branch: string; depth?: number; credentials: GitCredentials }): Promise<Result<string>>;
  commitAll(dir: string, message: string): Promise<boolean>;
  makeDiff(dir: string, baseRef: string): Promise<{ patch: string; stat: DiffStat & { changedFiles: ChangedFile[] } }>;
  push(dir: string, branch: string, credentials: GitCredentials): Promise<Result>;
}

export interface ArtifactPort {
  upload(taskID: string, epoch: number, name: string, body: string): Promise<Result>;
}
