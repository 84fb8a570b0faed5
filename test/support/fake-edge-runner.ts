/**
 * The runner process (`tether-runner start`) against the fake edge of runner/testing, as the
 * runner's cross-process tests start it: a home, the fake edge's URL and credential, a runner
 * ID, local repositories allowed, an obviously fake model key and the stand-in model's URL,
 * plus each test's own TETHER_* settings. Beside it, the steps those tests share: wait for the
 * runner's hello, assign a task on a fixture repository, read a task's event types with each
 * status spelled out (`status:waiting`), and take a task through a turn, a follow-up and a
 * cancel. `useRunnerRig` sets up a suite of such tests: per file a fixture repository and the
 * stand-in model, per test a fresh fake edge and home, and after each test its runners killed,
 * the edge closed, the runner's containers removed and the home's task disks unmounted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import type { Assignment } from "../../shared/protocol.ts";
import { FakeEdge } from "../../runner/testing/fake-edge.ts";
import { assignmentOf } from "../../runner/testing/fixtures.ts";
import { type FakeModel, type Script, startFakeModel } from "../fake-model/index.ts";
import { createFixtureRepo } from "../fake-model/scripts.ts";
import { unmountUnder } from "./mounts.ts";

const BIN = join(import.meta.dirname, "..", "..", "runner", "bin", "tether-runner.js");
const docker = new Docker();

export interface FakeEdgeRunnerOptions {
  edge: FakeEdge;
  home: string;
  runnerID: string;
  /** The stand-in model's `http://127.0.0.1:PORT`. */
  modelURL: string;
  /** Arguments after `start`. */
  args?: string[];
  /** More environment (TETHER_* settings); these win over the defaults. */
  env?: Record<string, string>;
  /** "pipe" hands the output to the caller; the default shows it in the test's output. */
  stdio?: "inherit" | "pipe";
}

/** Spawns `tether-runner start` against the fake edge. */
export function spawnRunner(o: FakeEdgeRunnerOptions): ChildProcess {
  const stdio = o.stdio ?? "inherit";
  return spawn(process.execPath, [BIN, "start", ...(o.args ?? [])], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: o.home,
      TETHER_RUNNER_HOME: o.home,
      TETHER_EDGE_URL: `http://127.0.0.1:${(o.edge.server.address() as AddressInfo).port}`,
      TETHER_RUNNER_CREDENTIAL: o.edge.credential,
      TETHER_RUNNER_ID: o.runnerID,
      TETHER_ALLOW_LOCAL_REPOS: "true",
      ANTHROPIC_API_KEY: "sk-ant-test-only-not-a-real-key",
      ANTHROPIC_BASE_URL: o.modelURL,
      ...o.env,
    },
    stdio: ["ignore", stdio, stdio],
  });
}

/** Waits until the runner's control socket is up and it has said hello `count` times. */
export function untilHello(edge: FakeEdge, timeoutMs = 30_000, count = 1): Promise<void> {
  return edge.until(() => edge.control !== undefined && edge.framesOf("hello").length >= count, timeoutMs, "hello");
}

/** Assigns task `id` (epoch 1) on the repository at `repoURL`; `task` overrides the rest of its record. */
export function assignTask(edge: FakeEdge, id: string, repoURL: string, task: Partial<Assignment["task"]> = {}): void {
  edge.sendControl({ type: "assign", assignment: assignmentOf(id, 1, { repo: { url: repoURL }, prompt: "The test fails. Fix it.", ...task }) });
}

/** The task's event types in order, a status as `status:<status>`. */
export function eventTypes(edge: FakeEdge, id: string): string[] {
  return edge.task(id).events.map((e) => (e.type === "status" ? `status:${(e.data as { status: string }).status}` : e.type));
}

/** Takes task `id`, assigned and answered by a script for a fix and a follow-up, through its first turn, a follow-up message, a second turn and a cancel. */
export async function turnFollowUpCancel(edge: FakeEdge, id: string): Promise<void> {
  await edge.until(() => eventTypes(edge, id).includes("status:waiting"), 60_000, "first turn");
  edge.command(id, { seq: 3, kind: "message", text: "Add a subtraction helper." });
  await edge.until(() => eventTypes(edge, id).filter((t) => t === "status:waiting").length === 2, 60_000, "second turn");
  edge.command(id, { seq: 4, kind: "cancel" });
  await edge.until(() => eventTypes(edge, id).includes("status:cancelled"), 60_000, "cancelled");
}

export interface RunnerRigOptions {
  /** Begins the temporary folders' names (`<name>-repo-…`, `<name>-…`). */
  name: string;
  /** What the runner needs before its first start (the worker image, the agent bundle), and how long that may take. */
  prepare: () => Promise<unknown>;
  prepareTimeoutMs?: number;
  /** The stand-in model's script. */
  script: Script;
  /** Removes the containers of the runner with this ID after each test, once its runners are gone. */
  removeContainersOf?: string;
  /** Removes each test's home after it. */
  removeHome?: boolean;
}

/** One suite's fixture repository and stand-in model, and the current test's fake edge, home and runners. */
export class RunnerRig {
  #edge: FakeEdge | undefined;
  #model: FakeModel | undefined;
  home = "";
  repo = "";
  readonly #children: ChildProcess[] = [];

  get edge(): FakeEdge {
    if (!this.#edge) throw new Error("no fake edge outside a test");
    return this.#edge;
  }

  get model(): FakeModel {
    if (!this.#model) throw new Error("no stand-in model before the suite starts");
    return this.#model;
  }

  /** `tether-runner start` against this test's edge, home and the stand-in model; killed after the test. */
  start(o: Omit<FakeEdgeRunnerOptions, "edge" | "home" | "modelURL">): ChildProcess {
    const child = spawnRunner({ ...o, edge: this.edge, home: this.home, modelURL: this.model.url! });
    this.#children.push(child);
    return child;
  }

  hello(timeoutMs?: number, count?: number): Promise<void> {
    return untilHello(this.edge, timeoutMs, count);
  }

  /** Assigns task `id` on the fixture repository. */
  assign(id: string, task: Partial<Assignment["task"]> = {}): void {
    assignTask(this.edge, id, this.repo, task);
  }

  types(id: string): string[] {
    return eventTypes(this.edge, id);
  }

  async setUpSuite(o: RunnerRigOptions): Promise<void> {
    await o.prepare();
    this.repo = join(mkdtempSync(join(tmpdir(), `${o.name}-repo-`)), "fixture");
    await createFixtureRepo(this.repo, { git: true });
    this.#model = await startFakeModel({ script: o.script, listen: { port: 0 } });
  }

  async tearDownSuite(): Promise<void> {
    await this.#model?.close();
  }

  async setUpTest(o: RunnerRigOptions): Promise<void> {
    this.#edge = new FakeEdge();
    await this.#edge.listen();
    this.home = mkdtempSync(join(tmpdir(), `${o.name}-`));
    this.model.requests.length = 0;
  }

  async tearDownTest(o: RunnerRigOptions): Promise<void> {
    for (const child of this.#children.splice(0)) await killAndWait(child);
    await this.#edge?.close();
    if (o.removeContainersOf) {
      const containers = await docker.listContainers({ all: true, filters: { label: [`tether.runner=${o.removeContainersOf}`] } });
      // A runner stopping meanwhile removes its waiting pooled worker itself (409: removal in progress).
      for (const info of containers) await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
    }
    // A task the test left mid-way keeps its loop-mounted disk: it goes with the test.
    unmountUnder(this.home);
    if (o.removeHome) rmSync(this.home, { recursive: true, force: true });
  }
}

/** A `RunnerRig` whose suite and tests are set up and torn down by this suite's hooks. */
export function useRunnerRig(o: RunnerRigOptions): RunnerRig {
  const rig = new RunnerRig();
  beforeAll(() => rig.setUpSuite(o), o.prepareTimeoutMs);
  afterAll(() => rig.tearDownSuite());
  beforeEach(() => rig.setUpTest(o));
  afterEach(() => rig.tearDownTest(o));
  return rig;
}

/** SIGKILL to a runner still running, and its exit. */
async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await exited;
}
