/**
 * End to end with several real runner processes on one edge, driven only through the public
 * API: each task lands on the runner its labels name (and waits while none fits), and a task
 * taken by a runner with no model key fails at once with a clear reason.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { QUICK_ANSWER, requestsFor } from "./support/e2e-model.ts";
import { expectContiguous, statusesOf } from "./support/e2e-checks.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import type { RunnerProcess } from "./support/runner-process.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";

describeDocker("end to end: several runners", () => {
  const stack = new E2EStack();
  const viewers: ViewerSocket[] = [];
  let alpha: RunnerProcess;
  let beta: RunnerProcess;
  let keyless: RunnerProcess;

  beforeAll(async () => {
    await stack.start();
    alpha = await stack.addRunner({ name: "alpha", labels: ["e2e-alpha", "linux"], capacity: 2 });
    beta = await stack.addRunner({ name: "beta", labels: ["e2e-beta", "linux"], capacity: 2 });
    keyless = await stack.addRunner({ name: "keyless", labels: ["e2e-keyless"], capacity: 1, modelKey: false });
  }, 300_000);

  afterAll(async () => {
    for (const v of viewers) await v.close();
    await stack.dispose();
  }, 120_000);

  async function watch(id: string): Promise<ViewerSocket> {
    const viewer = await ViewerSocket.open(stack.edge.url, id, stack.token);
    viewers.push(viewer);
    return viewer;
  }

  it("each task lands on the runner its labels name; one no runner fits stays queued", async () => {
    const { phone, repo } = stack;
    const toBeta = await phone.createTask({ repo: { url: repo.url }, prompt: "[e2e:quick] for beta", labels: ["e2e-beta"] });
    const toAlpha = await phone.createTask({ repo: { url: repo.url }, prompt: "[e2e:quick] for alpha", labels: ["linux", "e2e-alpha"] });
    const nowhere = await phone.createTask({ repo: { url: repo.url }, prompt: "[e2e:quick] for nobody", labels: ["e2e-alpha", "e2e-beta"] });

    for (const [task, runner] of [
      [toBeta, beta],
      [toAlpha, alpha],
    ] as const) {
      const viewer = await watch(task.id);
      await viewer.waitForStatus("waiting", 90_000);
      await viewer.waitFor("the answer", (e) => e.type === "agent.text" && e.data.text === QUICK_ANSWER);
      const assigned = viewer.events.find((e) => e.type === "status" && e.data.status === "assigned");
      expect(assigned?.data.runnerID, describeEvents(viewer.events)).toBe(runner.runnerID);
      expect((await phone.task(task.id)).runnerID).toBe(runner.runnerID);
      await phone.cancel(task.id);
      await viewer.waitForStatus("cancelled", 60_000);
      expectContiguous(viewer.events);
    }

    const waiting = await phone.task(nowhere.id);
    expect(waiting.status).toBe("queued");
    expect(waiting.runnerID).toBeNull();
    await phone.cancel(nowhere.id);
    const cancelled = await phone.task(nowhere.id);
    expect(cancelled.status).toBe("cancelled");
    expect(statusesOf(await phone.events(nowhere.id))).toEqual(["queued", "cancelled"]);
  }, 240_000);

  it("a runner with no model key fails the task at once with a clear reason", async () => {
    const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:quick] no key here", labels: ["e2e-keyless"] });
    const viewer = await watch(task.id);
    const end = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost", "running"], 60_000);
    expect(end.data.status, describeEvents(viewer.events)).toBe("failed");
    expect(end.data.reason).toBe("the runner has no model key (ANTHROPIC_API_KEY)");
    const events = await stack.phone.events(task.id);
    expect(statusesOf(events)).toEqual(["queued", "assigned", "failed"]);
    expect(events.find((e) => e.type === "status" && e.data.status === "assigned")?.data.runnerID).toBe(keyless.runnerID);
    expect(events.filter((e) => e.type.startsWith("agent.") || e.type.startsWith("tool."))).toEqual([]);
    expect(requestsFor(stack.model, "no key here")).toBe(0);
    const final = await stack.phone.task(task.id);
    expect(final.statusReason).toBe("the runner has no model key (ANTHROPIC_API_KEY)");
  }, 120_000);
});
