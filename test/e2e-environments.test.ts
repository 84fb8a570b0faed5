/**
 * Environments end to end through the real stack: the edge under `wrangler dev`, the
 * `tether-runner` process with Docker and the worker image, the stand-in model, and a
 * stand-in npm registry on 127.0.0.1 (the runner's host npm configuration names it, and the
 * runner's loopback test switch lets its egress proxy reach it). A saved environment matches
 * the fixture repository by its path and carries the setup script and a variable: setup installs the
 * repository's dependency through the egress proxy and the agent's `npm test` passes; in the
 * agent phase the registry is denied (an `egress` event) until the phone allows it; a second
 * task on the same repository restores the cached setup without asking the registry.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Event } from "../shared/events.ts";
import { ENV_ANSWER, QUICK_ANSWER } from "./support/e2e-model.ts";
import { expectContiguous, outputOf } from "./support/e2e-checks.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import { DEP_WORKS, fixtureRepo, type StandinRegistry, startStandinRegistry } from "./support/standin-registry.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";

const SETUP = "npm install --no-audit --no-fund";

describeDocker("end to end: a saved environment's setup, egress and the cache", () => {
  const stack = new E2EStack();
  const viewers: ViewerSocket[] = [];
  let root: string;
  let registry: StandinRegistry;
  let repoURL: string;
  let environmentID: string;

  const open = async (taskID: string) => {
    const v = await ViewerSocket.open(stack.edge.url, taskID, stack.token);
    viewers.push(v);
    return v;
  };
  const egressOf = (events: Event[]) => events.flatMap((e) => (e.type === "egress" ? [e.data as { phase: string; host: string; port: number; allowed: boolean; bytes: number }] : []));

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-e2e-env-"));
    registry = await startStandinRegistry(join(root, "pkg"));
    repoURL = await fixtureRepo(join(root, "repo"));
    await stack.start();
    await stack.addRunner({
      name: "e2e-env",
      capacity: 1,
      env: {
        ...(process.env.TETHER_WORKER_IMAGE ? { TETHER_WORKER_IMAGE: process.env.TETHER_WORKER_IMAGE } : {}),
        // The runner's host npm configuration: what it reads at start-up and gives the setup phase.
        npm_config_registry: registry.url,
        TETHER_EGRESS_ALLOW_LOOPBACK_FOR_TESTS: "true",
      },
    });
    environmentID = (await stack.phone.createEnvironment({ name: "fixture", repository: repoURL, setup: SETUP, variables: { FIXTURE_MODE: "e2e" } })).id;
  }, 600_000);

  afterAll(async () => {
    for (const v of viewers) await v.close();
    await stack.dispose();
    await registry?.close();
    if (root) await rm(root, { recursive: true, force: true });
  }, 120_000);

  it("setup installs the dependency through the egress proxy and the agent's npm test passes; the agent phase is denied until the phone allows the host", async () => {
    const { phone } = stack;
    const task = await phone.createTask({ repo: { url: repoURL }, prompt: "[e2e:env] Run the tests, then check the registry." });
    expect(task.environment).toMatchObject({ id: environmentID, setup: SETUP, variables: { FIXTURE_MODE: "e2e" } });
    const viewer = await open(task.id);

    const setupDone = await viewer.waitFor("the setup's end", (e) => e.type === "setup.done", 300_000);
    expect(setupDone.data, describeEvents(viewer.events)).toMatchObject({ ok: true, cache: "miss" });
    const steps = viewer.events.filter((e) => e.type === "setup.step").map((e) => e.data);
    expect(steps).toMatchObject([
      { step: 1, command: SETUP, source: "environment", state: "started" },
      { step: 1, state: "ended", exitCode: 0 },
    ]);
    const setupEgress = egressOf(viewer.events).filter((e) => e.phase === "setup");
    expect(setupEgress.length).toBeGreaterThan(0);
    expect(setupEgress.every((e) => e.allowed && e.host === "127.0.0.1" && e.port === registry.port)).toBe(true);
    expect(registry.requests).toEqual(expect.arrayContaining(["/tether-dep", "/tether-dep/-/tether-dep-1.0.0.tgz"]));

    // The agent phase: the registry is denied and the attempt is in the log; the phone allows it.
    await viewer.waitFor("an agent-phase denial", (e) => e.type === "egress" && e.data.phase === "agent" && e.data.allowed === false, 120_000);
    await phone.allowEgress(task.id, `127.0.0.1:${registry.port}`);
    await viewer.waitFor("the agent's answer", (e) => e.type === "agent.text" && e.data.text === ENV_ANSWER, 120_000);
    await viewer.waitForStatus("waiting", 60_000);

    const events = viewer.events;
    expect(outputOf(events, "toolu_env_test"), describeEvents(events)).toContain(DEP_WORKS);
    expect(outputOf(events, "toolu_env_test")).toContain("mode=e2e");
    expect(outputOf(events, "toolu_env_view")).toContain("1.0.0");
    expect(events.find((e) => e.type === "tool.end" && e.data.callID === "toolu_env_test")?.data).toMatchObject({ exitCode: 0 });
    expect(events.find((e) => e.type === "tool.end" && e.data.callID === "toolu_env_view")?.data).toMatchObject({ exitCode: 0 });
    const agentEgress = egressOf(events).filter((e) => e.phase === "agent");
    expect(agentEgress).toContainEqual(expect.objectContaining({ host: "127.0.0.1", port: registry.port, allowed: false }));
    expect(agentEgress).toContainEqual(expect.objectContaining({ host: "127.0.0.1", port: registry.port, allowed: true }));
    const allowedAt = events.findIndex((e) => e.type === "user.egress");
    expect(events[allowedAt]?.data).toMatchObject({ host: `127.0.0.1:${registry.port}` });
    expect(events.findIndex((e) => e.type === "egress" && e.data.phase === "agent" && e.data.allowed === true)).toBeGreaterThan(allowedAt);

    await phone.finish(task.id);
    const end = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
    expect(end.data.status, describeEvents(viewer.events)).toBe("succeeded");
    expectContiguous(viewer.events);
    // The record keeps the egress totals of the task's events.
    const all = egressOf(viewer.events);
    const record = await phone.task(task.id);
    expect(record.egress).toEqual({
      allowed: all.filter((e) => e.allowed).length,
      denied: all.filter((e) => !e.allowed).length,
      bytes: all.reduce((sum, e) => sum + e.bytes, 0),
    });
    expect(record.egress?.denied).toBeGreaterThan(0);
  }, 600_000);

  it("a second task on the same repository is a cache hit: setup is skipped and the registry is not asked", async () => {
    const { phone } = stack;
    const before = registry.requests.length;
    const task = await phone.createTask({ repo: { url: repoURL }, prompt: "[e2e:quick] Anything to do?" });
    expect(task.environment?.id).toBe(environmentID);
    const viewer = await open(task.id);
    const done = await viewer.waitFor("the setup's end", (e) => e.type === "setup.done", 300_000);
    expect(done.data, describeEvents(viewer.events)).toMatchObject({ ok: true, cache: "hit" });
    expect(Number(done.data.savedMs)).toBeGreaterThan(0);
    await viewer.waitFor("the answer", (e) => e.type === "agent.text" && e.data.text === QUICK_ANSWER, 120_000);
    expect(viewer.events.some((e) => e.type === "setup.step")).toBe(false);
    expect(registry.requests.length).toBe(before);
    await phone.finish(task.id);
    expect((await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000)).data.status).toBe("succeeded");
  }, 600_000);
});
