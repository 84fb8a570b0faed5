/**
 * A task's setup phase (internal to task/), between the clone and the agent.
 *
 * The setup script comes from the task request's `setup`, else its saved environment's,
 * else the repository's `.tether/setup.sh`; with none there is no setup. The phase opens the
 * task's egress proxy in phase `setup` (what that reaches is runner/egress/'s decision), then
 * either restores a cached result (`setup.done` with `cache: "hit"` and the time saved) or
 * runs each step in a setup sandbox (in the task's image), streaming `setup.step` and
 * `setup.output`, under one time limit, and caches the result of a setup that succeeds.
 * Whatever happens, the egress proxy then moves to the agent phase. A failing, timed-out or
 * cancelled setup comes back as an error: the step, its exit code and the tail of its output.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { EventData, RunnerEventBody } from "../../shared/events.ts";
import { LIMITS } from "../../shared/limits.ts";
import { cacheKeyOf, lockfileDigests, type SetupCache } from "../cache/index.ts";
import { type EgressDeps, egressOf } from "../egress/index.ts";
import type { GitPort, Result, Sandbox, SandboxResources } from "../ports.ts";
import { redactURL } from "./diff.ts";
import type { EgressQuestions } from "./egress-questions.ts";
import type { TaskRecord } from "./task-record.ts";
import { openEgress } from "./task-egress.ts";

export const REPOSITORY_SETUP = ".tether/setup.sh";
const TAIL_CHARS = 1500;

/** What the runner gives tasks' environments: the egress proxy and its defaults (runner/egress/), the cache. */
export interface EnvironmentDeps extends EgressDeps {
  cache?: SetupCache;
  setupTimeoutMs: number;
  /** The owner's answers to the network attempts of `ask` tasks. */
  questions?: EgressQuestions;
}

export interface SetupStep {
  command: string;
  source: EventData<"setup.step">["source"];
  /** What the step runs, for the cache key (the repository's script by its content). */
  content: string;
}

/** The task's setup steps: the request's script, else its environment's, else the repository's, else none. */
export async function setupStepsOf(record: TaskRecord, workspaceDir: string): Promise<SetupStep[]> {
  const script = record.task.setup;
  if (script) return [{ command: script, source: "request", content: script }];
  const envScript = record.task.environment?.setup;
  if (envScript) return [{ command: envScript, source: "environment", content: envScript }];
  const file = await readFile(join(workspaceDir, REPOSITORY_SETUP), "utf8").catch(() => undefined);
  if (file !== undefined) return [{ command: `sh -e ${REPOSITORY_SETUP}`, source: "repository", content: file }];
  return [];
}

export interface SetupPhaseDeps {
  sandbox: Sandbox;
  git: GitPort;
  env: EnvironmentDeps;
  resources: SandboxResources;
  /** The task's other image (task-image.ts), if it has one. */
  image?: string;
}

/**
 * Runs the setup phase; `signal` aborts it (a cancel). The error is the task's failure reason;
 * `cancelled` says the abort ended it.
 */
export async function runSetupPhase(
  deps: SetupPhaseDeps,
  record: TaskRecord,
  taskDir: string,
  emit: (bodies: RunnerEventBody[]) => void,
  signal: AbortSignal,
): Promise<Result<void, { reason: string; cancelled: boolean }>> {
  const workspaceDir = join(taskDir, "workspace");
  const steps = await setupStepsOf(record, workspaceDir);
  await openEgress(deps.env, record, steps.length > 0 ? "setup" : "agent", emit);
  if (steps.length === 0) return { ok: true, value: undefined };
  try {
    return await setUp(deps, record, taskDir, steps, emit, signal);
  } finally {
    deps.env.egress.setPhase(record.taskID, "agent");
  }
}

async function setUp(
  deps: SetupPhaseDeps,
  record: TaskRecord,
  taskDir: string,
  steps: SetupStep[],
  emit: (bodies: RunnerEventBody[]) => void,
  signal: AbortSignal,
): Promise<Result<void, { reason: string; cancelled: boolean }>> {
  const workspaceDir = join(taskDir, "workspace");
  const started = Date.now();
  const { cache } = deps.env;
  const key = cache
    ? cacheKeyOf({ imageID: await deps.sandbox.imageID(deps.image), repoURL: redactURL(record.task.repo.url), steps: steps.map((s) => s.content), lockfiles: await lockfileDigests(workspaceDir) })
    : undefined;
  if (cache && key) {
    const hit = await cache.restore(key, workspaceDir);
    if (hit) {
      emit([{ type: "setup.done", data: { ok: true, cache: "hit", durationMs: Date.now() - started, savedMs: hit.setupMs } }]);
      return { ok: true, value: undefined };
    }
  }
  const session = await deps.sandbox.openSetup({
    taskID: record.taskID,
    workspaceDir,
    stateDir: join(taskDir, "state"),
    resources: deps.resources,
    egress: egressOf(deps.env, record.taskID),
    ...variablesOf(record),
    ...(deps.image ? { image: deps.image } : {}),
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void session.close();
  }, deps.env.setupTimeoutMs);
  const onAbort = () => void session.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (const [i, step] of steps.entries()) {
      const n = i + 1;
      const stepStarted = Date.now();
      const command = step.command.slice(0, 8000);
      emit([{ type: "setup.step", data: { step: n, command, source: step.source, state: "started" } }]);
      let tail = "";
      const exitCode = await session.exec(step.command, (stream, text) => {
        tail = (tail + text).slice(-TAIL_CHARS);
        for (const chunk of chunksOf(text)) emit([{ type: "setup.output", data: { step: n, stream, text: chunk } }]);
      });
      const durationMs = Date.now() - stepStarted;
      emit([{ type: "setup.step", data: { step: n, command, source: step.source, state: "ended", exitCode, durationMs } }]);
      if (exitCode === 0 && !timedOut && !signal.aborted) continue;
      const why = signal.aborted
        ? "was cancelled"
        : timedOut
          ? `did not finish within the setup time limit of ${Math.round(deps.env.setupTimeoutMs / 1000)} s`
          : `failed with exit code ${exitCode}`;
      const reason = `setup step ${n} (${oneLine(command)}) ${why}${tail.trim() ? `:\n${tail.trim()}` : ""}`.slice(0, 2000);
      emit([{ type: "setup.done", data: { ok: false, cache: cache ? "miss" : "off", durationMs: Date.now() - started, step: n, exitCode, reason } }]);
      return { ok: false, error: { reason, cancelled: signal.aborted } };
    }
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    await session.close();
  }
  const durationMs = Date.now() - started;
  if (cache && key) {
    try {
      const paths = await deps.git.listUntracked(workspaceDir);
      await cache.save(key, workspaceDir, paths, { repo: redactURL(record.task.repo.url), setupMs: durationMs });
    } catch (err) {
      emit([{ type: "log", data: { level: "warn", message: `the setup's result could not be cached: ${(err as Error).message}`.slice(0, 2000) } }]);
    }
  }
  emit([{ type: "setup.done", data: { ok: true, cache: cache ? "miss" : "off", durationMs } }]);
  return { ok: true, value: undefined };
}

/** The task's environment variables for its containers, when its environment has any. */
export function variablesOf(record: TaskRecord): { env?: Record<string, string> } {
  const variables = record.task.environment?.variables ?? {};
  return Object.keys(variables).length > 0 ? { env: variables } : {};
}

function chunksOf(text: string): string[] {
  const max = LIMITS.outputChunkBytes / 4;
  const out: string[] = [];
  for (let i = 0; i < text.length; i += max) out.push(text.slice(i, i + max));
  return out;
}

function oneLine(command: string): string {
  const first = command.trim().split("\n", 1)[0] ?? "";
  return first.length > 80 || command.trim().includes("\n") ? `${first.slice(0, 79)}…` : first;
}
