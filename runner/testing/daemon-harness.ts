/**
 * Internal, for tests: a daemon on fakes (sandbox, git, model proxy) against the stand-in
 * edge, fresh for every test, stopped after it. `daemon()` makes one (the journal it writes is
 * `journal`), `started()` waits for its welcome; `forgetDaemon()` takes a daemon the test
 * stopped itself off the list.
 */
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach } from "vitest";
import { Daemon, type DaemonOptions } from "../daemon.ts";
import { EdgeArtifacts } from "../link/index.ts";
import { Journal } from "../task/index.ts";
import { FakeEdge } from "./fake-edge.ts";
import { FakeGit, FakeProxy, FakeSandbox } from "./fakes.ts";
import { assignmentOf } from "./fixtures.ts";
import { testDir } from "./temp-dir.ts";

const logger = pino({ level: "silent" });
export let edge: FakeEdge;
let edgeURL: string;
export let home: string;
export let sandbox: FakeSandbox;
export let git: FakeGit;
export let proxy: FakeProxy;
/** The journal of the daemon made last. */
export let journal: Journal;
const daemons: Daemon[] = [];

/** Registers the per-test set-up and tear-down; call once at the top of a test file. */
export function useDaemonHarness(): void {
  beforeEach(async () => {
    edge = new FakeEdge();
    edgeURL = await edge.listen();
    home = testDir("tether-daemon-");
    sandbox = new FakeSandbox();
    git = new FakeGit();
    proxy = new FakeProxy(join(home, "proxy"));
  });
  afterEach(async () => {
    for (const d of daemons.splice(0)) await d.stop().catch(() => undefined);
    await edge.close();
  });
}

export function daemon(overrides: Partial<DaemonOptions> & { outboxMax?: number } = {}): Daemon {
  journal = new Journal(join(home, "journal.db"), overrides.outboxMax ?? 100_000);
  const d = new Daemon({
    home,
    journal,
    sandbox,
    proxy,
    git,
    artifacts: new EdgeArtifacts(edgeURL, edge.credential),
    logger,
    hasModelKey: true,
    resources: { memoryMB: 256, cpus: 1, pids: 64 },
    credentials: {},
    push: false,
    cloneDepth: 1,
    allowLocalRepos: true,
    stopGraceMs: 10_000,
    idleMs: 60_000,
    workspaceCleanup: "always",
    edgeURL,
    credential: edge.credential,
    version: "test",
    labels: ["l1"],
    capacity: 2,
    batchMaxEvents: 100,
    batchMaxMs: 5,
    backoff: { baseMs: 10, capMs: 30, stableMs: 60_000 },
    ...overrides,
  });
  daemons.push(d);
  return d;
}

/** A daemon the test has stopped itself is not stopped again after the test. */
export function forgetDaemon(d: Daemon): void {
  daemons.splice(daemons.indexOf(d), 1);
}

/** The types of the task's events at the edge, a status as `status:<status>`. */
export const types = (taskID: string) => edge.task(taskID).events.map((e) => (e.type === "status" ? `status:${(e.data as { status: string }).status}` : e.type));
export const assign = (taskID: string, epoch = 1) => edge.sendControl({ type: "assign", assignment: assignmentOf(taskID, epoch) });

export async function started(d: Daemon): Promise<void> {
  await d.start();
  await edge.until(() => edge.framesOf("hello").length > 0 && d.link === "connected", 5000, "welcome");
}
