/**
 * The stack the fault figures run on: the real edge under `wrangler dev`, the stand-in model,
 * the git fixture, a user, a TCP relay between runners and the edge, and runner processes
 * (real `tether-runner start`) each with its own label so a task reaches the runner meant
 * for it. Everything it starts it also stops in `dispose()`: runner processes by their PID,
 * their containers by their `tether.runner` label, tmpfs mounts, the edge, the model.
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { LABEL_RUNNER } from "../../runner/sandbox/docker.ts";
import { Journal } from "../../runner/task/journal.ts";
import type { Event } from "../../shared/events.ts";
import type { FakeModel } from "../../test/fake-model/index.ts";
import { ensureWorkerImage } from "../../test/support/e2e-stack.ts";
import { WranglerEdge } from "../../test/support/edge.ts";
import { createGitFixture, type GitFixture } from "../../test/support/git-fixture.ts";
import { PhoneAPI } from "../../test/support/phone-api.ts";
import { RunnerProcess } from "../../test/support/runner-process.ts";
import { ViewerSocket } from "../../test/support/viewer-socket.ts";
import { DEFAULT_WORKER_IMAGE } from "../../worker-image/build.ts";
import { countLog, type LogCount } from "./measure.ts";
import { startFaultsModel, STOP_FILE } from "./model.ts";
import { TCPRelay } from "./relay.ts";

const WORKER_IMAGE = process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;
const TERMINAL = ["succeeded", "failed", "cancelled", "lost"];

export interface LinesTask {
  id: string;
  viewer: ViewerSocket;
  runner: RunnerProcess;
}

export interface TaskEnd {
  count: LogCount;
  status: string;
  reason: string | null;
}

export class FaultStack {
  readonly edge = new WranglerEdge();
  readonly relay = new TCPRelay(() => this.edge.port);
  readonly docker = new Docker();
  model!: FakeModel;
  repo!: GitFixture;
  token = "";
  phone!: PhoneAPI;
  readonly runners: RunnerProcess[] = [];
  readonly viewers: ViewerSocket[] = [];
  readonly mounts: string[] = [];

  async start(): Promise<void> {
    await ensureWorkerImage();
    await this.edge.start();
    await this.relay.accept();
    this.model = await startFaultsModel();
    this.repo = await createGitFixture();
    this.token = await this.edge.userToken("faults-user");
    this.phone = new PhoneAPI(this.edge.url, this.token);
  }

  /** A registered, started runner that reaches the edge through the relay; `tmpfsMB` puts its home on a tmpfs of that size; `env` adds TETHER_* settings. */
  async addRunner(label: string, capacity: number, tmpfsMB?: number, env: Record<string, string> = {}): Promise<RunnerProcess> {
    const runner = new RunnerProcess({ edgeURL: this.relay.url, modelURL: this.model.url, name: `faults-${label}`, labels: [label], capacity, env: { TETHER_WORKER_IMAGE: WORKER_IMAGE, ...env } });
    this.runners.push(runner);
    if (tmpfsMB !== undefined) {
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=${tmpfsMB}m,mode=0700`, "tether-faults", runner.home]);
      this.mounts.push(runner.home);
    }
    await runner.register(this.token);
    await runner.start(this.token);
    return runner;
  }

  /** A `[faults:lines]` task on the runner with `label`, once its viewer has seen line 4. */
  async startLines(runner: RunnerProcess, label: string, tag: string): Promise<LinesTask> {
    const task = await this.phone.createTask({ repo: { url: this.repo.url }, prompt: `[faults:lines] ${tag}`, labels: [label] });
    const viewer = await ViewerSocket.open(this.edge.url, task.id, this.token);
    this.viewers.push(viewer);
    await viewer.waitFor("line 4", (e) => e.type === "tool.output" && String(e.data.text).includes("line 4\n"), 120_000);
    return { id: task.id, viewer, runner };
  }

  /** Tells the command to stop, lets the turn end, finishes the task and counts its log. A task already ended (its workspace gone) is only counted. */
  async endLines(task: LinesTask): Promise<TaskEnd> {
    const workspace = this.workspaceOf(task);
    if (workspace && existsSync(workspace)) writeFileSync(join(workspace, STOP_FILE), "");
    await task.viewer.waitForStatus(["waiting", ...TERMINAL], 300_000);
    if (!task.viewer.events.some((e) => e.type === "status" && TERMINAL.includes(String(e.data.status)))) await this.phone.finish(task.id);
    return this.awaitEnd(task.id, task.viewer, true);
  }

  /** Waits for the task's terminal status and counts its log. */
  async awaitEnd(id: string, viewer: ViewerSocket, loop: boolean, timeoutMs = 120_000): Promise<TaskEnd> {
    const end = await viewer.waitForStatus(TERMINAL, timeoutMs);
    // The viewer's log up to the terminal status is what GET /events holds then.
    const stored = await this.phone.events(id);
    const seen = viewer.events.filter((e) => e.seq <= end.seq);
    return { count: countLog(seen, stored.filter((e) => e.seq <= end.seq), loop), status: String(end.data.status), reason: (end.data.reason as string | undefined) ?? null };
  }

  /** Milliseconds from `from` until the viewer holds an event after `afterSeq`; null when none came within `timeoutMs`. */
  async nextEvent(viewer: ViewerSocket, afterSeq: number, from: number, timeoutMs: number): Promise<number | null> {
    try {
      await viewer.waitFor(`an event after seq ${afterSeq}`, (e: Event) => e.seq > afterSeq, timeoutMs);
      return performance.now() - from;
    } catch {
      return null;
    }
  }

  /** The task's workspace on this host, as the runner's journal holds it (a warm pool's worker has its slot's directory, not tasks/<id>); null once the task is gone. */
  workspaceOf(task: LinesTask): string | null {
    const journal = new Journal(join(task.runner.home, "journal.db"), undefined, { readonly: true });
    try {
      return journal.task(task.id)?.workspace ?? null;
    } finally {
      journal.close();
    }
  }

  /** Containers that carry a runner's label, stopped ones included. */
  async containersOf(runner: RunnerProcess): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({ all: true, filters: { label: [`${LABEL_RUNNER}=${runner.runnerID}`] } });
  }

  async dispose(): Promise<void> {
    for (const v of this.viewers) await v.close().catch(() => undefined);
    await this.relay.close().catch(() => undefined);
    for (const r of this.runners) {
      await r.stop().catch(() => undefined);
      const containers = await this.containersOf(r).catch(() => []);
      for (const c of containers) await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    for (const m of this.mounts.splice(0)) {
      try {
        execFileSync("umount", [m]);
      } catch (err) {
        console.error(`umount ${m}: ${String(err)}`);
      }
    }
    for (const r of this.runners) await r.dispose().catch(() => undefined);
    await this.model?.close();
    this.repo?.dispose();
    await this.edge.dispose();
  }
}
