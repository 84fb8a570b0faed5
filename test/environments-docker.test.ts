/**
 * Environments against the real engine: a task's setup phase runs in a `--network none`
 * container whose only way out is the relay to the task's egress proxy. A stand-in npm
 * registry on 127.0.0.1 serves one tiny package; the runner's test switch
 * (`allowLoopback`, egressAllowLoopbackForTests) is what lets the proxy reach it, and the
 * registry is given to the container the way the host's npm configuration would be. The
 * fixture repository's setup `npm install`s the package and its test needs it. In the agent
 * phase the same registry is denied (an egress denial event) until the phone's allowance;
 * a second task on the same repository restores the cached setup without the registry.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunnerEventBody } from "../shared/events.ts";
import { SetupCache } from "../runner/cache/index.ts";
import { EgressProxy, egressOf, proxyEnv, rulesOfRegistries } from "../runner/egress/index.ts";
import { cloneRepo, commitAll, listUntracked, makeDiff, pushBranch } from "../runner/git/index.ts";
import type { GitPort } from "../runner/ports.ts";
import { DockerSandbox } from "../runner/sandbox/index.ts";
import { Journal } from "../runner/task/journal.ts";
import { type EnvironmentDeps, runSetupPhase } from "../runner/task/setup-phase.ts";
import { TaskRecord } from "../runner/task/task-record.ts";
import { assignmentOf } from "../runner/testing/fixtures.ts";
import { describeDocker } from "./support/docker.ts";
import { fixtureRepo, type StandinRegistry, startStandinRegistry } from "./support/standin-registry.ts";
import { ensureWorkerImage } from "./worker-image-support.ts";

const SETUP = "npm install --no-audit --no-fund && npm test";
const git: GitPort = { clone: cloneRepo, commitAll, makeDiff, push: pushBranch, listUntracked };

describeDocker("environments: setup, egress and the cache in Docker", () => {
  let root: string;
  let registry: StandinRegistry;
  let registryURL: string;
  let registryPort: number;
  let requests: string[];
  let repoURL: string;
  let sandbox: DockerSandbox;
  let egress: EgressProxy;
  let env: EnvironmentDeps;
  const runnerID = `test-env-${process.pid}`;
  const journal = new Journal(":memory:");
  const docker = new Docker();

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-env-e2e-"));
    registry = await startStandinRegistry(join(root, "pkg"));
    ({ url: registryURL, port: registryPort, requests } = registry);
    repoURL = await fixtureRepo(join(root, "repo"));
    const image = await ensureWorkerImage(process.env.TETHER_WORKER_IMAGE);
    sandbox = new DockerSandbox({ image, runnerID });
    egress = new EgressProxy({ allowLoopback: true });
    env = {
      egress,
      egressDir: join(root, "egress"),
      setupRules: rulesOfRegistries({ npmRegistry: registryURL, pipExtraIndexURLs: [], aptURLs: [] }),
      toolEnv: { ...proxyEnv({ loopbackThroughProxy: true }), npm_config_registry: registryURL },
      cache: new SetupCache(join(root, "cache"), 100 * 1024 * 1024),
      setupTimeoutMs: 5 * 60_000,
    };
  }, 600_000);

  afterAll(async () => {
    await sandbox?.removeOrphans(new Set());
    await egress?.close();
    await registry?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** A task of the fixture repository, cloned into its own directory. */
  async function task(taskID: string): Promise<{ record: TaskRecord; taskDir: string }> {
    const taskDir = join(root, "tasks", taskID);
    const record = new TaskRecord(journal, journal.addTask(assignmentOf(taskID, 1, { repo: { url: repoURL }, setup: SETUP }), join(taskDir, "workspace")));
    await mkdir(join(taskDir, "state"), { recursive: true });
    const cloned = await cloneRepo({ url: repoURL, dir: join(taskDir, "workspace"), branch: `tether/${taskID}`, depth: 0 });
    expect(cloned.ok).toBe(true);
    return { record, taskDir };
  }

  function setUp(record: TaskRecord, taskDir: string, events: RunnerEventBody[]) {
    return runSetupPhase({ sandbox, git, env, resources: { memoryMB: 1024, cpus: 1, pids: 256 } }, record, taskDir, (b) => events.push(...b), new AbortController().signal);
  }

  /** A container of the task made like its worker's (the same relay, egress and network), to run one command. */
  async function runInTask(taskID: string, taskDir: string, command: string): Promise<{ code: number | null; output: string; networkMode: string | undefined }> {
    const session = await sandbox.openSetup({
      taskID,
      workspaceDir: join(taskDir, "workspace"),
      stateDir: join(taskDir, "state"),
      resources: { memoryMB: 1024, cpus: 1, pids: 256 },
      egress: egressOf(env, taskID),
    });
    try {
      const [info] = await docker.listContainers({ filters: { label: [`tether.runner=${runnerID}`, `tether.task=${taskID}`] } });
      const inspected = info ? await docker.getContainer(info.Id).inspect() : undefined;
      let output = "";
      const code = await session.exec(command, (_stream, text) => (output += text));
      return { code, output, networkMode: inspected?.HostConfig.NetworkMode };
    } finally {
      await session.close();
    }
  }

  it("setup installs a real dependency through the egress proxy; the agent phase is denied until the phone allows the host", async () => {
    const { record, taskDir } = await task("env-1");
    const events: RunnerEventBody[] = [];
    const result = await setUp(record, taskDir, events);
    const output = events.flatMap((e) => (e.type === "setup.output" ? [e.data.text] : [])).join("");
    expect(result, output).toEqual({ ok: true, value: undefined });
    expect(events.filter((e) => e.type === "setup.step").map((e) => e.data)).toMatchObject([
      { step: 1, command: SETUP, source: "request", state: "started" },
      { step: 1, state: "ended", exitCode: 0 },
    ]);
    expect(events.at(-1)).toMatchObject({ type: "setup.done", data: { ok: true, cache: "miss" } });
    expect(output).toContain("tether-dep works");
    const setupEgress = events.flatMap((e) => (e.type === "egress" ? [e.data] : []));
    expect(setupEgress.length).toBeGreaterThan(0);
    expect(setupEgress.every((e) => e.phase === "setup" && e.allowed && e.host === "127.0.0.1" && e.port === registryPort)).toBe(true);
    expect(requests).toEqual(expect.arrayContaining(["/tether-dep", "/tether-dep/-/tether-dep-1.0.0.tgz"]));
    expect(existsSync(join(taskDir, "workspace", "node_modules", "tether-dep", "index.js"))).toBe(true);

    // The agent phase: the registry is no longer reachable, and the attempt is an event.
    events.length = 0;
    const denied = await runInTask("env-1", taskDir, "npm view tether-dep version");
    expect(denied.networkMode).toBe("none");
    expect(denied.code).not.toBe(0);
    expect(events.filter((e) => e.type === "egress").map((e) => e.data)).toContainEqual(expect.objectContaining({ phase: "agent", host: "127.0.0.1", port: registryPort, allowed: false }));

    // The phone allows the host for the rest of the task.
    expect(egress.allow("env-1", `127.0.0.1:${registryPort}`).ok).toBe(true);
    events.length = 0;
    const allowed = await runInTask("env-1", taskDir, "npm view tether-dep version");
    expect(allowed.code, allowed.output).toBe(0);
    expect(allowed.output).toContain("1.0.0");
    expect(events.filter((e) => e.type === "egress").map((e) => e.data)).toContainEqual(expect.objectContaining({ phase: "agent", host: "127.0.0.1", allowed: true }));
    await egress.unregister("env-1");
  }, 600_000);

  it("a second task on the same repository and script is a cache hit: setup is skipped and the dependency is there without the registry", async () => {
    const { record, taskDir } = await task("env-2");
    const before = requests.length;
    const events: RunnerEventBody[] = [];
    expect(await setUp(record, taskDir, events)).toEqual({ ok: true, value: undefined });
    expect(events.map((e) => e.type)).toEqual(["setup.done"]);
    expect(events[0]).toMatchObject({ data: { ok: true, cache: "hit" } });
    expect((events[0]?.data as { savedMs?: number }).savedMs).toBeGreaterThan(0);
    // In the agent phase the registry is denied: the test passes on the restored dependency alone.
    const tested = await runInTask("env-2", taskDir, "npm test");
    expect(tested.code, tested.output).toBe(0);
    expect(tested.output).toContain("tether-dep works");
    expect(requests.length).toBe(before);
    await egress.unregister("env-2");
  }, 600_000);
});
