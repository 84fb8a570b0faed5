import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { TaskEnvironment } from "../../shared/environment.ts";
import type { RunnerEventBody } from "../../shared/events.ts";
import { SetupCache } from "../cache/index.ts";
import type { EgressPhase, EgressPort, EgressRegistration, Result } from "../ports.ts";
import { FakeGit, FakeSandbox } from "../testing/fakes.ts";
import { assignmentOf } from "../testing/fixtures.ts";
import { Journal } from "./journal.ts";
import { type EnvironmentDeps, REPOSITORY_SETUP, runSetupPhase } from "./setup-phase.ts";
import { TaskRecord } from "./task-record.ts";

class FakeEgress implements EgressPort {
  readonly phases: EgressPhase[] = [];
  registration: EgressRegistration | undefined;
  async register(_taskID: string, reg: EgressRegistration): Promise<void> {
    this.registration = reg;
    this.phases.push(reg.phase);
  }
  setPhase(_taskID: string, phase: EgressPhase): void {
    this.phases.push(phase);
  }
  allow(): Result<{ host: string }> {
    return { ok: true, value: { host: "x" } };
  }
  totals() {
    return undefined;
  }
  async unregister(): Promise<void> {}
}

describe("the setup phase", () => {
  let root: string;
  let sandbox: FakeSandbox;
  let egress: FakeEgress;
  let events: RunnerEventBody[];
  let journal: Journal;
  let n = 0;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-setup-"));
    sandbox = new FakeSandbox();
    egress = new FakeEgress();
    events = [];
    journal = new Journal(":memory:");
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  function env(cache?: SetupCache): EnvironmentDeps {
    return { egress, egressDir: join(root, "egress"), setupRules: [{ host: "registry.test" }], toolEnv: {}, cache, setupTimeoutMs: 60_000 };
  }

  /** A task with a fresh workspace holding `files`; its record and its directory. */
  async function task(setup: string | undefined, files: Record<string, string> = {}, environment?: TaskEnvironment): Promise<{ record: TaskRecord; taskDir: string }> {
    n += 1;
    const taskID = `t${n}`;
    const taskDir = join(root, "tasks", taskID);
    for (const [path, content] of Object.entries(files)) {
      await mkdir(join(taskDir, "workspace", path, ".."), { recursive: true });
      await writeFile(join(taskDir, "workspace", path), content);
    }
    await mkdir(join(taskDir, "workspace"), { recursive: true });
    const assignment = assignmentOf(taskID, 1, { repo: { url: "https://git.test/r.git" }, ...(setup ? { setup } : {}), ...(environment ? { environment } : {}) });
    return { record: new TaskRecord(journal, journal.addTask(assignment, join(taskDir, "workspace"))), taskDir };
  }

  function run(env: EnvironmentDeps, record: TaskRecord, taskDir: string, signal = new AbortController().signal, image?: string) {
    return runSetupPhase({ sandbox, git: new FakeGit(), env, resources: { memoryMB: 256, cpus: 1, pids: 64 }, ...(image ? { image } : {}) }, record, taskDir, (b) => events.push(...b), signal);
  }

  it("runs the request's script as a step, streams it, then moves the egress proxy to the agent phase", async () => {
    const { record, taskDir } = await task("npm ci");
    expect(await run(env(), record, taskDir)).toEqual({ ok: true, value: undefined });
    expect(sandbox.setupCommands).toEqual(["npm ci"]);
    expect(events.map((e) => e.type)).toEqual(["setup.step", "setup.output", "setup.step", "setup.done"]);
    expect(events[0]?.data).toMatchObject({ step: 1, command: "npm ci", source: "request", state: "started" });
    expect(events[1]?.data).toEqual({ step: 1, stream: "stdout", text: "ran npm ci\n" });
    expect(events[2]?.data).toMatchObject({ step: 1, state: "ended", exitCode: 0 });
    expect(events[3]?.data).toMatchObject({ ok: true, cache: "off" });
    expect(egress.phases).toEqual(["setup", "agent"]);
    expect(egress.registration?.setupRules).toEqual([{ host: "registry.test" }]);
  });

  it("runs the repository's .tether/setup.sh when the request has no script", async () => {
    const { record, taskDir } = await task(undefined, { [REPOSITORY_SETUP]: "echo hi\n" });
    expect((await run(env(), record, taskDir)).ok).toBe(true);
    expect(sandbox.setupCommands).toEqual([`sh -e ${REPOSITORY_SETUP}`]);
    expect(events[0]?.data).toMatchObject({ source: "repository" });
  });

  it("runs a saved environment's script when the request has none, with its hosts per phase and its variables", async () => {
    const environment: TaskEnvironment = {
      id: "env_1",
      name: "node",
      setup: "npm ci",
      network: { setup: ["mirror.test"], agent: ["api.test:8443"] },
      variables: { NODE_ENV: "test" },
    };
    const { record, taskDir } = await task(undefined, { [REPOSITORY_SETUP]: "echo hi\n" }, environment);
    expect((await run(env(), record, taskDir)).ok).toBe(true);
    expect(sandbox.setupCommands).toEqual(["npm ci"]);
    expect(events[0]?.data).toMatchObject({ source: "environment" });
    expect(egress.registration?.setupRules).toEqual([{ host: "registry.test" }, { host: "mirror.test" }]);
    expect(egress.registration?.agentRules).toEqual([{ host: "api.test", port: 8443 }]);
    expect(sandbox.setupSpecs[0]?.env).toEqual({ NODE_ENV: "test" });
  });

  it("prefers the request's script to the environment's", async () => {
    const { record, taskDir } = await task("make", {}, { id: "env_1", name: "n", setup: "npm ci", network: { setup: [], agent: [] }, variables: {} });
    expect((await run(env(), record, taskDir)).ok).toBe(true);
    expect(sandbox.setupCommands).toEqual(["make"]);
    expect(events[0]?.data).toMatchObject({ source: "request" });
  });

  it("has no setup and opens egress in the agent phase when there is no script", async () => {
    const { record, taskDir } = await task(undefined);
    expect((await run(env(), record, taskDir)).ok).toBe(true);
    expect(events).toEqual([]);
    expect(egress.phases).toEqual(["agent"]);
  });

  it("fails with the step, its exit code and the tail of its output", async () => {
    const { record, taskDir } = await task("make deps");
    sandbox.setupExitCodes.set("make deps", 2);
    const result = await run(env(), record, taskDir);
    expect(result.ok).toBe(false);
    const reason = result.ok ? "" : result.error.reason;
    expect(reason).toContain("setup step 1 (make deps) failed with exit code 2");
    expect(reason).toContain("ran make deps");
    expect(events.at(-1)).toMatchObject({ type: "setup.done", data: { ok: false, step: 1, exitCode: 2 } });
    expect(egress.phases).toEqual(["setup", "agent"]);
  });

  it("a second task with the same repository, script and lockfiles is a cache hit; a changed lockfile misses", async () => {
    const cache = new SetupCache(join(root, "cache"), 1024 * 1024);
    const first = await task("npm ci", { "package-lock.json": "{}" });
    expect((await run(env(cache), first.record, first.taskDir)).ok).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "setup.done", data: { ok: true, cache: "miss" } });

    events = [];
    const second = await task("npm ci", { "package-lock.json": "{}" });
    expect((await run(env(cache), second.record, second.taskDir)).ok).toBe(true);
    expect(events.map((e) => e.type)).toEqual(["setup.done"]);
    expect(events[0]).toMatchObject({ data: { ok: true, cache: "hit" } });
    expect(sandbox.setupCommands).toEqual(["npm ci"]);

    events = [];
    const third = await task("npm ci", { "package-lock.json": '{"changed":true}' });
    expect((await run(env(cache), third.record, third.taskDir)).ok).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "setup.done", data: { cache: "miss" } });
    expect(sandbox.setupCommands).toEqual(["npm ci", "npm ci"]);
  });

  it("runs the setup in the task's other image, whose cache entries are its own", async () => {
    const cache = new SetupCache(join(root, "cache"), 1024 * 1024);
    const first = await task("npm ci", { "package-lock.json": "{}" });
    expect((await run(env(cache), first.record, first.taskDir, undefined, "tether-worker:envs-alt")).ok).toBe(true);
    expect(sandbox.setupSpecs[0]?.image).toBe("tether-worker:envs-alt");

    events = [];
    const second = await task("npm ci", { "package-lock.json": "{}" });
    expect((await run(env(cache), second.record, second.taskDir)).ok).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "setup.done", data: { cache: "miss" } });
    expect(sandbox.setupSpecs[1]?.image).toBeUndefined();
    expect(sandbox.setupCommands).toEqual(["npm ci", "npm ci"]);
  });

  it("says a cancelled setup was cancelled", async () => {
    const { record, taskDir } = await task("sleep 100");
    const abort = new AbortController();
    abort.abort();
    const result = await run(env(), record, taskDir, abort.signal);
    expect(result).toMatchObject({ ok: false, error: { cancelled: true } });
  });
});
