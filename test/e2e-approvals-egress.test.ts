/**
 * Approvals of the network end to end: a task in `ask` mode on the real stack (the edge under
 * `wrangler dev`, the `tether-runner` process with Docker and the worker image, the stand-in
 * model) runs `npm view` against a stand-in registry on 127.0.0.1 (the runner's host npm
 * configuration names it; its loopback test switch lets the egress proxy reach it). The
 * command asks first; then the runner's egress proxy holds the registry attempt of the agent
 * phase until the phone answers; "always" allows the host for the rest of the task.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ASK_ANSWER, ASK_NET_COMMAND } from "./support/e2e-model.ts";
import { outputOf } from "./support/e2e-checks.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import { type StandinRegistry, startStandinRegistry } from "./support/standin-registry.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";

describeDocker("end to end: approvals of the network", () => {
  const stack = new E2EStack();
  let root: string;
  let registry: StandinRegistry;
  let viewer: ViewerSocket | undefined;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-e2e-ask-net-"));
    registry = await startStandinRegistry(join(root, "pkg"));
    await stack.start();
    await stack.addRunner({ name: "e2e-ask-net", capacity: 1, env: { npm_config_registry: registry.url, TETHER_EGRESS_ALLOW_LOOPBACK_FOR_TESTS: "true" } });
  }, 600_000);

  afterAll(async () => {
    await viewer?.close();
    await stack.dispose();
    await registry?.close();
    if (root) await rm(root, { recursive: true, force: true });
  }, 120_000);

  it("the registry attempt waits for the phone; always lets it through and allows the host for the rest of the task", async () => {
    const { phone } = stack;
    // What reached the registry before the task (the runner's own start-up) is not the task's.
    const before = registry.requests.length;
    const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:ask-net] Ask the registry.", mode: "ask" });
    viewer = await ViewerSocket.open(stack.edge.url, task.id, stack.token);
    const asked = (kind: string) => viewer!.waitFor(`a ${kind} question`, (e) => e.type === "approval.requested" && e.data.kind === kind, 120_000);
    const command = await asked("command");
    expect(command.data.subject).toBe(ASK_NET_COMMAND);
    await phone.answerApproval(task.id, String(command.data.approvalID), { decision: "yes" });

    const host = await asked("egress");
    expect(host.data.subject).toBe(`127.0.0.1:${registry.port}`);
    expect((await phone.task(task.id)).pendingApproval).toMatchObject({ kind: "egress", prefix: `127.0.0.1:${registry.port}` });
    // Nothing reached the registry while the question was open.
    expect(registry.requests.slice(before)).toEqual([]);
    await phone.answerApproval(task.id, String(host.data.approvalID), { decision: "always" });
    await viewer.waitFor("the answer", (e) => e.type === "agent.text" && e.data.text === ASK_ANSWER, 90_000);
    await viewer.waitForStatus("waiting");

    const events = viewer.events;
    const agentEgress = events.filter((e) => e.type === "egress" && e.data.phase === "agent").map((e) => e.data);
    expect(agentEgress.length, describeEvents(events)).toBeGreaterThan(0);
    expect(agentEgress.every((e) => e.allowed && e.host === "127.0.0.1")).toBe(true);
    expect(outputOf(events, "toolu_ask_net")).toContain("1.0.0");
    expect(events.find((e) => e.type === "user.egress")?.data).toEqual({ host: `127.0.0.1:${registry.port}`, by: "e2e-user" });
    // Only the phone's "always" and the rule it made answered: every question about the host is closed, none by a runner.
    const hostQuestions = events.filter((e) => e.type === "approval.requested" && e.data.kind === "egress").map((e) => e.data.approvalID);
    const answered = events.filter((e) => e.type === "approval.answered").map((e) => [e.data.approvalID, e.data.by]);
    for (const id of hostQuestions) expect(answered.some(([a, by]) => a === id && (by === "e2e-user" || by === "rule"))).toBe(true);
    expect((await phone.task(task.id)).pendingApproval).toBeNull();
  }, 300_000);
});
