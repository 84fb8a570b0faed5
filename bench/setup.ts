/**
 * How long a task's setup phase takes for the environments fixture (test/support/
 * standin-registry.ts: a repository whose `npm test` needs one package from a stand-in
 * registry on 127.0.0.1), cold and warm: the runner's own setup phase (runSetupPhase) with
 * the Docker sandbox and the worker image, the egress proxy (loopback allowed, as in the
 * tests) and the setup cache. Cold: a fresh cache each run, so `npm install --no-audit
 * --no-fund` runs in a setup container through the relay and the proxy, and the result is
 * packed into the cache. Warm: the same script and lockfiles again, a cache hit that restores
 * the packed workspace files. Each figure is the wall time of runSetupPhase from a fresh clone;
 * one warm-up, then RUNS runs of each. Prints a markdown section.
 *
 *   TETHER_WORKER_IMAGE=tether-worker:latest npx tsx bench/setup.ts
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { RunnerEventBody } from "../shared/events.ts";
import { SetupCache } from "../runner/cache/index.ts";
import { EgressProxy, proxyEnv, rulesOfRegistries } from "../runner/egress/index.ts";
import { cloneRepo, commitAll, listUntracked, makeDiff, pushBranch } from "../runner/git/index.ts";
import type { GitPort } from "../runner/ports.ts";
import { DockerSandbox } from "../runner/sandbox/index.ts";
import { Journal } from "../runner/task/journal.ts";
import { type EnvironmentDeps, runSetupPhase } from "../runner/task/setup-phase.ts";
import { TaskRecord } from "../runner/task/task-record.ts";
import { assignmentOf } from "../runner/testing/fixtures.ts";
import { fixtureRepo, startStandinRegistry } from "../test/support/standin-registry.ts";
import { ensureWorkerImage } from "../test/worker-image-support.ts";
import { ms, summarize, type Summary } from "./stats.ts";

const RUNS = 5;
const SETUP = "npm install --no-audit --no-fund";
const git: GitPort = { clone: cloneRepo, commitAll, makeDiff, push: pushBranch, listUntracked };

export interface SetupBenchResult {
  cold: Summary;
  warm: Summary;
  /** What the cache's `setup.done` said it saved on the warm runs (the cold setup's own time). */
  savedMs: Summary;
  image: string;
}

export async function benchSetup(): Promise<SetupBenchResult> {
  const root = await mkdtemp(join(tmpdir(), "tether-bench-setup-"));
  const registry = await startStandinRegistry(join(root, "pkg"));
  const repoURL = await fixtureRepo(join(root, "repo"));
  const image = await ensureWorkerImage(process.env.TETHER_WORKER_IMAGE);
  const runnerID = `bench-setup-${process.pid}`;
  const sandbox = new DockerSandbox({ image, runnerID });
  const egress = new EgressProxy({ allowLoopback: true });
  const journal = new Journal(":memory:");
  let n = 0;

  const envWith = (cache: SetupCache): EnvironmentDeps => ({
    egress,
    egressDir: join(root, "egress"),
    setupRules: rulesOfRegistries({ npmRegistry: registry.url, pipExtraIndexURLs: [], aptURLs: [] }),
    toolEnv: { ...proxyEnv({ loopbackThroughProxy: true }), npm_config_registry: registry.url },
    cache,
    setupTimeoutMs: 5 * 60_000,
  });

  /** One setup phase on a fresh clone; its wall time and its `setup.done`. */
  async function setUp(cache: SetupCache): Promise<{ wallMs: number; done: Extract<RunnerEventBody, { type: "setup.done" }>["data"] }> {
    const taskID = `bench-${++n}`;
    const taskDir = join(root, "tasks", taskID);
    await mkdir(join(taskDir, "state"), { recursive: true });
    const cloned = await cloneRepo({ url: repoURL, dir: join(taskDir, "workspace"), branch: `tether/${taskID}`, depth: 0 });
    if (!cloned.ok) throw new Error(cloned.error);
    const record = new TaskRecord(journal, journal.addTask(assignmentOf(taskID, 1, { repo: { url: repoURL }, setup: SETUP }), join(taskDir, "workspace")));
    const events: RunnerEventBody[] = [];
    const started = performance.now();
    const result = await runSetupPhase({ sandbox, git, env: envWith(cache), resources: { memoryMB: 1024, cpus: 1, pids: 256 } }, record, taskDir, (b) => events.push(...b), new AbortController().signal);
    const wallMs = performance.now() - started;
    await egress.unregister(taskID);
    if (!result.ok) throw new Error(result.error.reason);
    const done = events.find((e) => e.type === "setup.done");
    if (done?.type !== "setup.done") throw new Error("no setup.done");
    await rm(taskDir, { recursive: true, force: true });
    return { wallMs, done: done.data };
  }

  try {
    const cold: number[] = [];
    const warm: number[] = [];
    const saved: number[] = [];
    await setUp(new SetupCache(join(root, "cache-warmup"), 100 * 1024 * 1024));
    for (let i = 0; i < RUNS; i++) {
      const first = await setUp(new SetupCache(join(root, `cache-${i}`), 100 * 1024 * 1024));
      if (first.done.cache !== "miss") throw new Error(`a fresh cache answered ${first.done.cache}`);
      cold.push(first.wallMs);
    }
    const cache = new SetupCache(join(root, "cache-0"), 100 * 1024 * 1024);
    for (let i = 0; i < RUNS; i++) {
      const again = await setUp(cache);
      if (again.done.cache !== "hit") throw new Error(`the warm cache answered ${again.done.cache}`);
      warm.push(again.wallMs);
      saved.push(again.done.savedMs ?? 0);
    }
    return { cold: summarize(cold), warm: summarize(warm), savedMs: summarize(saved), image };
  } finally {
    await sandbox.removeOrphans(new Set());
    await egress.close();
    await registry.close();
    await rm(root, { recursive: true, force: true });
  }
}

export function setupMarkdown(r: SetupBenchResult): string {
  return [
    "| setup of the environments fixture | median | min | max |",
    "|---|---|---|---|",
    `| cold: \`${SETUP}\` in a setup container through the egress proxy, then packed into the cache | ${ms(r.cold.median)} | ${ms(r.cold.min)} | ${ms(r.cold.max)} |`,
    `| warm: cache hit, the packed files restored, setup skipped | ${ms(r.warm.median)} | ${ms(r.warm.min)} | ${ms(r.warm.max)} |`,
    "",
    `Image \`${r.image}\`; ${r.cold.n} runs of each after one warm-up, each on a fresh clone. A hit's \`setup.done\` reports \`savedMs\` (the cold setup's own time, as the cache recorded it): median ${ms(r.savedMs.median)}.`,
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await benchSetup();
  console.log(setupMarkdown(result));
}
