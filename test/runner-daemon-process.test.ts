/**
 * The runner process with `--sandbox process` (no Docker): the bundled worker as a child
 * process, the real model proxy in front of the stand-in model, git on a fixture repo and the
 * fake edge. A whole task: turn, follow-up, cancel with the diff kept; and a runner restart,
 * after which the task (whose worker died with the runner) fails with a clear reason.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeModel, type ScriptStep, startFakeModel } from "./fake-model/index.ts";
import { createFixtureRepo, fixTheFailingTestScript, followUpScript } from "./fake-model/scripts.ts";
import { unmountUnder } from "./support/mounts.ts";
import { AGENT_BUNDLE, bundleAgent } from "../worker-image/bundle.ts";
import { FakeEdge } from "../runner/testing/fake-edge.ts";
import { assignTask, eventTypes, spawnRunner, untilHello } from "./support/fake-edge-runner.ts";


describe("tether-runner --sandbox process", () => {
  let edge: FakeEdge;
  let model: FakeModel;
  let home: string;
  let repo: string;
  let script: ScriptStep[];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(AGENT_BUNDLE)) await bundleAgent();
    repo = join(mkdtempSync(join(tmpdir(), "tp-repo-")), "fixture");
    await createFixtureRepo(repo, { git: true });
    model = await startFakeModel({ script: (_req, i) => script[i] ?? { error: { status: 500, type: "api_error", message: "script over" } }, listen: { port: 0 } });
  });
  afterAll(async () => {
    await model.close();
  });
  beforeEach(async () => {
    edge = new FakeEdge();
    await edge.listen();
    home = mkdtempSync(join(tmpdir(), "tp-"));
    model.requests.length = 0;
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    await edge.close();
    // A task the test left held keeps its loop-mounted disk: it goes with the test.
    unmountUnder(home);
    rmSync(home, { recursive: true, force: true });
  });

  function start(): ChildProcess {
    const child = spawnRunner({ edge, home, runnerID: `daemon-process-${process.pid}`, modelURL: model.url!, args: ["--sandbox", "process"], env: { TETHER_LOG_LEVEL: "error" } });
    children.push(child);
    return child;
  }

  const types = (id: string) => eventTypes(edge, id);
  const hello = (n = 1) => untilHello(edge, 30_000, n);
  const assign = (id: string) => assignTask(edge, id, repo);

  it("runs a task: turn, follow-up, cancel with the diff kept, workspace removed after the ack", async () => {
    script = [...fixTheFailingTestScript(), ...followUpScript()];
    const runner = start();
    await hello();
    assign("pk1");
    await edge.until(() => types("pk1").includes("status:waiting"), 60_000, "first turn");
    edge.command("pk1", { seq: 3, kind: "message", text: "Add a subtraction helper." });
    await edge.until(() => types("pk1").filter((t) => t === "status:waiting").length === 2, 60_000, "second turn");
    edge.command("pk1", { seq: 4, kind: "cancel" });
    await edge.until(() => types("pk1").includes("status:cancelled"), 60_000, "cancelled");
    const events = edge.task("pk1").events;
    expect(events.map((e) => e.rseq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === "tool.start").map((e) => (e.data as { callID: string }).callID)).toEqual([
      "toolu_list",
      "toolu_view",
      "toolu_test1",
      "toolu_edit",
      "toolu_test2",
      "toolu_create",
    ]);
    expect(events.find((e) => e.type === "diff")!.data).toMatchObject({ files: 2, insertions: 4, deletions: 1, artifact: "diff.patch" });
    expect(edge.task("pk1").artifacts.get("diff.patch")).toContain("+export function sub(a, b) {");
    await edge.until(() => !existsSync(join(home, "tasks", "pk1")), 10_000, "workspace removed after the ack");
    runner.kill("SIGTERM");
    // Its own budget: three waits of up to 60 s each.
  }, 200_000);

  it("fails a running task after a restart, because its worker died with the runner", async () => {
    script = fixTheFailingTestScript().map((step, i) => (i === 2 ? { ...step, delayMs: 3000 } : step));
    const first = start();
    await hello();
    assign("pk2");
    await edge.until(() => types("pk2").includes("tool.end"), 60_000, "a tool done");
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    const second = start();
    await hello(2);
    await edge.until(() => types("pk2").includes("status:failed"), 30_000, "failed after restart");
    expect(edge.task("pk2").events.at(-1)!.data).toMatchObject({ status: "failed", reason: "the worker did not survive while the runner was down" });
    second.kill("SIGTERM");
    // Its own budget: waits of up to 60 s and 30 s, and a restart.
  }, 120_000);
});
