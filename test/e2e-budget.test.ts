/**
 * End to end, a reached budget raised from the phone's API: the real edge under `wrangler dev`,
 * the real runner process with the Docker sandbox and the worker image, the stand-in model.
 * A turn budget reached pauses the task in `waiting` with `budget.reached`; `PATCH /limits`
 * lets the refused call through and the task succeeds. A wall-time budget reached freezes the
 * container (`docker pause`); the raise thaws it and the running command goes on.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BUDGET_ANSWER, requestsFor, WALL_TICKS } from "./support/e2e-model.ts";
import { outputOf } from "./support/e2e-checks.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import { taskContainers } from "./support/task-containers.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";

/** The runner's minute in this suite: a wall-time limit of 1 minute passes after 3 s. */
const MINUTE_MS = 3000;

describeDocker("end to end: budgets raised from the phone", () => {
  const stack = new E2EStack();
  const docker = new Docker();
  const viewers: ViewerSocket[] = [];
  const open = async (taskID: string) => {
    const v = await ViewerSocket.open(stack.edge.url, taskID, stack.token);
    viewers.push(v);
    return v;
  };
  /** Whether the task's worker container is paused (the cgroup freezer). */
  const paused = async (taskID: string) => {
    const [info] = await taskContainers(docker, taskID);
    return info ? (await docker.getContainer(info.Id).inspect()).State.Paused : undefined;
  };
  const until = async (what: string, test: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await test()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  beforeAll(async () => {
    await stack.start();
    await stack.addRunner({ name: "e2e-budget", capacity: 2, env: { TETHER_TASK_MINUTE_MS: String(MINUTE_MS) } });
  }, 300_000);

  afterAll(async () => {
    for (const v of viewers) await v.close();
    await stack.dispose();
  }, 120_000);

  it("a turn budget reached pauses the task in waiting with budget.reached; a raise lets the same call through and the task succeeds", async () => {
    const { phone } = stack;
    const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:turns] Write two files.", limits: { maxTurns: 2 } });
    const viewer = await open(task.id);
    const reached = await viewer.waitFor("budget.reached", (e) => e.type === "budget.reached", 120_000);
    expect(reached.data, describeEvents(viewer.events)).toMatchObject({ limit: "maxTurns", limits: { maxTurns: 2 }, spent: { maxTurns: 2 }, remaining: { maxTurns: 0 } });
    await viewer.waitFor("waiting", (e) => e.type === "status" && e.data.status === "waiting" && e.seq > reached.seq);
    expect((await phone.task(task.id)).status).toBe("waiting");
    // Two calls answered, the third refused by the proxy before it reached the model.
    expect(requestsFor(stack.model, "[e2e:turns]")).toBe(2);
    expect(viewer.events.some((e) => e.type === "error"), describeEvents(viewer.events)).toBe(false);

    const raised = await phone.raiseLimits(task.id, { maxTurns: 3 });
    expect(raised.limits.maxTurns).toBe(3);
    const answer = await viewer.waitFor("the answer after the raise", (e) => e.type === "agent.text" && e.data.text === BUDGET_ANSWER, 60_000);
    expect(requestsFor(stack.model, "[e2e:turns]")).toBe(3);
    const types = viewer.events.filter((e) => e.seq > reached.seq && e.seq <= answer.seq).map((e) => (e.type === "status" ? `status:${String(e.data.status)}` : e.type));
    expect(types, describeEvents(viewer.events)).toEqual(expect.arrayContaining(["status:waiting", "budget.raised", "status:running", "agent.text"]));
    await viewer.waitFor("turn.end", (e) => e.type === "turn.end");
    await phone.finish(task.id);
    const end = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
    expect(end.data.status, describeEvents(viewer.events)).toBe("succeeded");
    const final = await phone.task(task.id);
    expect(final.usage.modelCalls).toBe(3);
    expect(final.diff?.files).toBe(2);
  }, 240_000);

  it("a wall-time budget reached freezes the container; a raise thaws it and the command goes on where it stopped", async () => {
    const { phone } = stack;
    const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:wall] Tick.", limits: { timeoutMinutes: 1 } });
    const viewer = await open(task.id);
    const reached = await viewer.waitFor("budget.reached", (e) => e.type === "budget.reached", 120_000);
    expect(reached.data, describeEvents(viewer.events)).toMatchObject({ limit: "timeoutMinutes", limits: { timeoutMinutes: 1 }, remaining: { timeoutMinutes: 0 } });
    await until("the container paused", async () => (await paused(task.id)) === true);
    expect((await phone.task(task.id)).status).toBe("waiting");
    const ticksBefore = outputOf(viewer.events, "toolu_wall_ticks").trim().split("\n").length;
    expect(ticksBefore).toBeLessThan(WALL_TICKS);

    await phone.raiseLimits(task.id, { timeoutMinutes: 200 });
    await until("the container running again", async () => (await paused(task.id)) === false);
    await viewer.waitFor("the answer after the raise", (e) => e.type === "agent.text" && e.data.text === BUDGET_ANSWER, 90_000);
    const ticks = outputOf(viewer.events, "toolu_wall_ticks").trim().split("\n");
    expect(ticks).toEqual(Array.from({ length: WALL_TICKS }, (_, i) => `tick ${i + 1}`));
    await viewer.waitFor("turn.end", (e) => e.type === "turn.end");
    await phone.finish(task.id);
    const end = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
    expect(end.data.status, describeEvents(viewer.events)).toBe("succeeded");
  }, 240_000);
});
