/**
 * Approvals end to end, through the public API as a phone drives it: the real edge under
 * `wrangler dev`, the real `tether-runner` with the Docker sandbox and the worker image, the
 * stand-in model. The worker asks, the runner relays, the TaskRoom holds the question, the
 * phone answers over REST, and the answer reaches the worker, also across a runner restart
 * (with the phone offline meanwhile), an edge restart and an expiry.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Event } from "../shared/index.ts";
import { ASK_ANSWER, PLAN_ANSWER, PLAN_TEXT, requestsFor } from "./support/e2e-model.ts";
import { expectContiguous, statusesOf } from "./support/e2e-checks.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import type { RunnerProcess } from "./support/runner-process.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";

describeDocker("end to end: approvals", () => {
  const stack = new E2EStack();
  const viewers: ViewerSocket[] = [];
  let runner: RunnerProcess;
  const open = async (taskID: string, after = 0) => {
    const v = await ViewerSocket.open(stack.edge.url, taskID, stack.token, after);
    viewers.push(v);
    return v;
  };
  const question = (viewer: ViewerSocket, kind: string) =>
    viewer.waitFor(`a ${kind} question`, (e) => e.type === "approval.requested" && e.data.kind === kind, 120_000).then((e) => String(e.data.approvalID));
  const toolEnd = (events: Event[], callID: string) => events.find((e) => e.type === "tool.end" && e.data.callID === callID)?.data;

  /** Finish the waiting task; its terminal status and the diff's patch. */
  async function finish(id: string, viewer: ViewerSocket): Promise<{ status: unknown; patch: string }> {
    await stack.phone.finish(id);
    const done = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 90_000);
    const patch = await stack.phone.artifact(id, "diff.patch").catch(() => "");
    return { status: done.data.status, patch };
  }

  beforeAll(async () => {
    await stack.start();
    runner = await stack.addRunner({ name: "e2e-approvals", capacity: 2, push: true });
  }, 300_000);

  afterAll(async () => {
    for (const v of viewers) await v.close();
    await stack.dispose();
  }, 120_000);

  it("ask: a command and a file write wait for the phone; yes runs, no does not, and the task goes on", async () => {
    const { phone } = stack;
    const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:ask] Make two files.", mode: "ask" });
    expect(task.mode).toBe("ask");
    const viewer = await open(task.id);
    const command = await question(viewer, "command");
    expect((await phone.task(task.id)).pendingApproval).toMatchObject({ approvalID: command, kind: "command", subject: "echo asked > asked.txt", prefix: "echo asked" });
    // Nothing runs while the question is open: the model has had one call.
    expect(requestsFor(stack.model, "[e2e:ask] Make two files.")).toBe(1);
    await phone.answerApproval(task.id, command, { decision: "yes" });
    const write = await question(viewer, "write");
    await phone.answerApproval(task.id, write, { decision: "no" });
    await viewer.waitFor("the answer", (e) => e.type === "agent.text" && e.data.text === ASK_ANSWER, 60_000);
    await viewer.waitForStatus("waiting");
    expect((await phone.task(task.id)).pendingApproval).toBeNull();

    const events = viewer.events;
    expect(toolEnd(events, "toolu_ask_cmd")).toMatchObject({ ok: true });
    expect(toolEnd(events, "toolu_ask_write")).toMatchObject({ ok: false, summary: "declined by the owner" });
    const answers = events.filter((e) => e.type === "approval.answered").map((e) => [e.data.approvalID, e.data.decision, e.data.by]);
    expect(answers).toEqual([
      [command, "yes", "e2e-user"],
      [write, "no", "e2e-user"],
    ]);
    const { status, patch } = await finish(task.id, viewer);
    expect(status, describeEvents(viewer.events)).toBe("succeeded");
    expect(patch).toContain("asked.txt");
    expect(patch).not.toContain("written.txt");
    expectContiguous(viewer.events);
  }, 240_000);

  it("the phone offline until after a runner restart: the question waits, the new viewer sees it, its answer reaches the re-attached worker", async () => {
    const { phone } = stack;
    const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:ask] Across a restart.", mode: "ask" });
    const first = await open(task.id);
    const command = await question(first, "command");
    await first.close();
    const pid = runner.pid;
    await runner.kill9();
    await runner.start(stack.token);
    expect(runner.pid).not.toBe(pid);

    const viewer = await open(task.id);
    await viewer.waitFor("the replayed question", (e) => e.type === "approval.requested" && e.data.approvalID === command);
    expect(viewer.events.some((e) => e.type === "approval.answered")).toBe(false);
    expect((await phone.task(task.id)).pendingApproval?.approvalID).toBe(command);
    await phone.answerApproval(task.id, command, { decision: "always" });
    const write = await question(viewer, "write");
    await phone.answerApproval(task.id, write, { decision: "yes" });
    await viewer.waitForStatus("waiting", 90_000);
    // The container was re-attached, not started again: the model saw each call once.
    expect(requestsFor(stack.model, "[e2e:ask] Across a restart.")).toBe(3);
    expect(toolEnd(viewer.events, "toolu_ask_cmd")).toMatchObject({ ok: true });
    const { status, patch } = await finish(task.id, viewer);
    expect(status, describeEvents(viewer.events)).toBe("succeeded");
    expect(patch).toContain("asked.txt");
    expect(patch).toContain("written.txt");
  }, 300_000);

  it("plan: the question survives an edge restart, and the edited plan is the agent's next instruction", async () => {
    const { phone } = stack;
    const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:plan] Fix the test, plan first.", mode: "plan" });
    const viewer = await open(task.id);
    const plan = await question(viewer, "plan");
    expect(viewer.events.find((e) => e.type === "approval.requested")?.data.subject).toBe(PLAN_TEXT);
    await stack.edge.stop();
    await stack.edge.start();
    expect((await phone.task(task.id)).pendingApproval).toMatchObject({ approvalID: plan, kind: "plan" });
    const edited = `${PLAN_TEXT}\n2. Touch nothing else.`;
    await phone.answerApproval(task.id, plan, { decision: "edit", text: edited });
    await viewer.waitFor("the answer", (e) => e.type === "agent.text" && e.data.text === PLAN_ANSWER, 90_000);
    await viewer.waitForStatus("waiting");
    const carried = stack.model.requests.filter((r) => JSON.stringify(r.body.messages).includes("[e2e:plan] Fix the test, plan first.")).at(1);
    expect(JSON.stringify(carried?.body.messages)).toContain(JSON.stringify(`Your owner edited the plan. Carry out this plan now:\n\n${edited}`).slice(1, -1));
    const { status, patch } = await finish(task.id, viewer);
    expect(status, describeEvents(viewer.events)).toBe("succeeded");
    expect(patch).toContain("+  return a + b;");
    // The plan turn is not a turn that waits for a follow-up: running, then waiting once the plan is carried out.
    expect(statusesOf(viewer.events)).toEqual(["queued", "assigned", "running", "waiting", "succeeded"]);
  }, 300_000);

  it("an unanswered question counts as no once its time is up, decided by the edge", async () => {
    const { phone } = stack;
    const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:ask] Nobody answers.", mode: "ask", approvalTimeoutSeconds: 10 });
    const viewer = await open(task.id);
    const command = await question(viewer, "command");
    const expired = await viewer.waitFor("the expiry", (e) => e.type === "approval.expired", 90_000);
    expect(expired.data).toMatchObject({ approvalID: command });
    expect(Number(expired.data.afterSeconds)).toBeGreaterThanOrEqual(10);
    const write = await question(viewer, "write");
    await phone.answerApproval(task.id, write, { decision: "yes" });
    await viewer.waitForStatus("waiting", 90_000);
    expect(toolEnd(viewer.events, "toolu_ask_cmd")).toMatchObject({ ok: false, summary: "declined by the owner" });
    expect(viewer.events.some((e) => e.type === "approval.answered" && e.data.approvalID === command)).toBe(false);
    const { status, patch } = await finish(task.id, viewer);
    expect(status).toBe("succeeded");
    expect(patch).not.toContain("asked.txt");
    expect(patch).toContain("written.txt");
  }, 240_000);
});
