/**
 * The runner process (`tether-runner start`) against the fake edge of runner/testing, as the
 * runner's cross-process tests start it: a home, the fake edge's URL and credential, a runner
 * ID, local repositories allowed, an obviously fake model key and the stand-in model's URL,
 * plus each test's own TETHER_* settings. Beside it, the steps those tests share: wait for the
 * runner's hello, assign a task on a fixture repository, and read a task's event types with
 * each status spelled out (`status:waiting`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Assignment } from "../../shared/protocol.ts";
import type { FakeEdge } from "../../runner/testing/fake-edge.ts";
import { assignmentOf } from "../../runner/testing/fixtures.ts";

const BIN = join(import.meta.dirname, "..", "..", "runner", "bin", "tether-runner.js");

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
