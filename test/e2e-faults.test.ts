/**
 * End to end through faults, driven only through the public API: `kill -9` of the runner in
 * the middle of a command and a restart on the same home; a restart of the edge (wrangler dev
 * stopped and started on the same port and state) in the middle of a command. The viewer
 * reconnects with `after=` as a phone does. Nothing may be lost or repeated: the viewer's
 * events equal `GET /events`, `seq` has no gap, every line of the command's output arrives
 * once, and every tool call starts and ends once; then the phone finishes the task, which
 * ends succeeded with its branch pushed. The tests share one edge and one runner; each one
 * starts and finishes its own task.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Event } from "../shared/events.ts";
import { requestsFor, SLOW_LINES, SLOW_SUMMARY } from "./support/e2e-model.ts";
import { expectContiguous, outputOf, repeatedAgentEvents, statusesOf } from "./support/e2e-checks.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import type { RunnerProcess } from "./support/runner-process.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";
import { taskContainers } from "./support/task-containers.ts";

const ALL_LINES = Array.from({ length: SLOW_LINES }, (_, i) => `line ${i + 1}`);

describeDocker("end to end: faults in the middle of a task", () => {
  const stack = new E2EStack();
  let runner: RunnerProcess;
  const viewers: ViewerSocket[] = [];

  beforeAll(async () => {
    await stack.start();
    runner = await stack.addRunner({ name: "e2e-faults", capacity: 2, push: true });
  }, 300_000);

  afterAll(async () => {
    for (const viewer of viewers) await viewer.close();
    await stack.dispose();
  }, 120_000);

  async function startSlowTask(tag: string): Promise<{ id: string; viewer: ViewerSocket }> {
    const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: `[e2e:slow] ${tag}: fix the test.` });
    const viewer = await ViewerSocket.open(stack.edge.url, task.id, stack.token);
    viewers.push(viewer);
    await viewer.waitFor("line 4 of the long command", (e) => e.type === "tool.output" && String(e.data.text).includes("line 4\n"), 90_000);
    return { id: task.id, viewer };
  }

  /** The turn after the fault: the command's output whole and once, then the test and the answer. */
  async function expectWholeTurn(id: string, viewer: ViewerSocket): Promise<Event[]> {
    await viewer.waitForStatus("waiting", 90_000);
    const events = viewer.events;
    expectContiguous(events);
    expect(events).toEqual((await stack.phone.events(id)).slice(0, events.length));
    expect(outputOf(events, "toolu_slow_loop").trim().split("\n")).toEqual(ALL_LINES);
    expect(outputOf(events, "toolu_slow_test")).toContain("ok: add(2, 3) is 5");
    expect(events.filter((e) => e.type === "agent.text" && e.data.text === SLOW_SUMMARY)).toHaveLength(1);
    expect(repeatedAgentEvents(events), describeEvents(events)).toEqual([]);
    expect(events.filter((e) => e.type === "usage")).toHaveLength(4);
    return events;
  }

  /** The phone finishes the task: it ends succeeded, its log whole and its branch pushed. */
  async function expectFinished(id: string, viewer: ViewerSocket): Promise<void> {
    await stack.phone.finish(id);
    const end = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
    expect(end.data.status, describeEvents(viewer.events)).toBe("succeeded");
    const events = viewer.events;
    expectContiguous(events);
    expect(events).toEqual(await stack.phone.events(id));
    expect(repeatedAgentEvents(events)).toEqual([]);
    const statuses = statusesOf(events);
    expect(statuses.slice(0, 3)).toEqual(["queued", "assigned", "running"]);
    expect(statuses.slice(-2)).toEqual(["waiting", "succeeded"]);
    expect(statuses.filter((s) => s !== "running").length, statuses.join(" ")).toBe(4);
    expect(events.filter((e) => e.type === "diff")).toHaveLength(1);
    const pushed = stack.repo.branchCommit(`tether/${id}`);
    expect(pushed, `tether/${id} on the bare remote`).toBeDefined();
    expect(stack.repo.show(pushed!, "math.js")).toContain("return a + b;");
    const task = await stack.phone.task(id);
    expect(task.status).toBe("succeeded");
    expect(task.usage.modelCalls).toBe(4);
  }

  /** Waits until the task's container has written `line n` of the long command. */
  async function containerWrote(id: string, n: number): Promise<void> {
    const docker = new Docker();
    for (let i = 0; i < 400; i++) {
      const [info] = await taskContainers(docker, id);
      const log = info ? ((await docker.getContainer(info.Id).logs({ stdout: true })) as Buffer).toString("latin1") : "";
      if (log.includes(`line ${n}\\n`)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the container of ${id} never wrote line ${n}`);
  }

  it("kill -9 of the runner mid-command, then a restart on the same home: the task goes on, nothing lost or repeated", async () => {
    const { id, viewer } = await startSlowTask("kill");
    const pid = runner.pid;
    await runner.kill9();
    // The container goes on printing while no runner listens.
    const seen = outputOf(viewer.events, "toolu_slow_loop").trim().split("\n").length;
    await containerWrote(id, seen + 2);
    await runner.start(stack.token);
    expect(runner.pid).not.toBe(pid);
    const events = await expectWholeTurn(id, viewer);
    // The container was re-attached, not started again: the model saw each call once.
    expect(requestsFor(stack.model, "[e2e:slow] kill")).toBe(4);
    expect(statusesOf(events)[0]).toBe("queued");
    await expectFinished(id, viewer);
  }, 240_000);

  it("a restart of the edge mid-command: the runner and the viewer come back by themselves, nothing lost or repeated", async () => {
    const { id, viewer } = await startSlowTask("edge");
    await stack.edge.stop();
    await stack.edge.start();
    const events = await expectWholeTurn(id, viewer);
    expect(viewer.reconnects).toBeGreaterThanOrEqual(1);
    expect(requestsFor(stack.model, "[e2e:slow] edge")).toBe(4);
    expect(statusesOf(events)[0]).toBe("queued");
    await expectFinished(id, viewer);
  }, 240_000);
});
