/**
 * The runner process with `--sandbox process` (no Docker): the bundled worker as a child
 * process, the real model proxy in front of the stand-in model, git on a fixture repo and the
 * fake edge. A whole task: turn, follow-up, cancel with the diff kept; and a runner restart,
 * after which the task (whose worker died with the runner) fails with a clear reason.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ScriptStep } from "./fake-model/index.ts";
import { fixTheFailingTestScript, followUpScript } from "./fake-model/scripts.ts";
import { turnFollowUpCancel, useRunnerRig } from "./support/fake-edge-runner.ts";
import { AGENT_BUNDLE, bundleAgent } from "../worker-image/bundle.ts";


describe("tether-runner --sandbox process", () => {
  let script: ScriptStep[];
  const rig = useRunnerRig({
    name: "tp",
    prepare: async () => {
      if (!existsSync(AGENT_BUNDLE)) await bundleAgent();
    },
    script: (_req, i) => script[i] ?? { error: { status: 500, type: "api_error", message: "script over" } },
    removeHome: true,
  });

  const start = (): ChildProcess => rig.start({ runnerID: `daemon-process-${process.pid}`, args: ["--sandbox", "process"], env: { TETHER_LOG_LEVEL: "error" } });
  const hello = (n = 1) => rig.hello(30_000, n);

  it("runs a task: turn, follow-up, cancel with the diff kept, workspace removed after the ack", async () => {
    script = [...fixTheFailingTestScript(), ...followUpScript()];
    const runner = start();
    await hello();
    rig.assign("pk1");
    await turnFollowUpCancel(rig.edge, "pk1");
    const events = rig.edge.task("pk1").events;
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
    expect(rig.edge.task("pk1").artifacts.get("diff.patch")).toContain("+export function sub(a, b) {");
    await rig.edge.until(() => !existsSync(join(rig.home, "tasks", "pk1")), 10_000, "workspace removed after the ack");
    runner.kill("SIGTERM");
    // Its own budget: three waits of up to 60 s each.
  }, 200_000);

  it("fails a running task after a restart, because its worker died with the runner", async () => {
    script = fixTheFailingTestScript().map((step, i) => (i === 2 ? { ...step, delayMs: 3000 } : step));
    const first = start();
    await hello();
    rig.assign("pk2");
    await rig.edge.until(() => rig.types("pk2").includes("tool.end"), 60_000, "a tool done");
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    const second = start();
    await hello(2);
    await rig.edge.until(() => rig.types("pk2").includes("status:failed"), 30_000, "failed after restart");
    expect(rig.edge.task("pk2").events.at(-1)!.data).toMatchObject({ status: "failed", reason: "the worker did not survive while the runner was down" });
    second.kill("SIGTERM");
    // Its own budget: waits of up to 60 s and 30 s, and a restart.
  }, 120_000);
});
