/**
 * The runner process against a real Docker engine: `tether-runner start` with the worker
 * image, the real model proxy in front of the stand-in model, git on a local fixture repo,
 * and the fake edge. Covers a whole task (turn, follow-up, cancel with the diff kept) and
 * `kill -9` of the runner mid-task: the next start re-attaches the same container and every
 * event reaches the edge once and in order. Attacks from inside: a tool that never ends meets
 * the wall-clock limit; a tool that sends SIGUSR1 to the agent opens no inspector, nor reads
 * the agent's memory; a tool
 * that fills the disk meets the task's disk bound (the test runs as root, as CI does).
 */
import type { ChildProcess } from "node:child_process";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { expect, it } from "vitest";
import { fixTheFailingTestScript, followUpScript } from "./fake-model/scripts.ts";
import { byConversation, type ScriptStep } from "./fake-model/index.ts";
import { describeDocker } from "./support/docker.ts";
import { isMountpoint } from "./support/mounts.ts";
import { turnFollowUpCancel, useRunnerRig } from "./support/fake-edge-runner.ts";
import { ensureWorkerImage } from "./worker-image-support.ts";

const IMAGE = process.env.TETHER_WORKER_IMAGE ?? "tether-worker:latest";
const RUNNER_ID = `daemon-docker-${process.pid}`;
const docker = new Docker();

describeDocker("tether-runner with Docker", () => {
  let script: ScriptStep[];
  const rig = useRunnerRig({
    name: "tr",
    // The attacks from inside need the agent of this tree: the image is built when stale. A rebuild takes minutes on a cold host.
    prepare: () => ensureWorkerImage(IMAGE),
    prepareTimeoutMs: 600_000,
    // Killing the runner drops the model call its proxy was carrying; the worker's retry must get the same answer.
    script: byConversation(() => script),
    removeContainersOf: RUNNER_ID,
  });

  function start(extraEnv: Record<string, string> = {}): ChildProcess {
    return rig.start({ runnerID: RUNNER_ID, env: { TETHER_WORKER_IMAGE: IMAGE, TETHER_MEMORY_MB: "512", TETHER_LOG_LEVEL: "warn", TETHER_STOP_GRACE_SECONDS: "5", ...extraEnv } });
  }

  it("runs a task in a container: turn, follow-up, cancel with the diff kept, container removed after the ack", async () => {
    script = [...fixTheFailingTestScript(), ...followUpScript()];
    const runner = start();
    await rig.hello();
    rig.assign("dk1");
    await turnFollowUpCancel(rig.edge, "dk1");
    const events = rig.edge.task("dk1").events;
    expect(events.map((e) => e.rseq)).toEqual(events.map((_, i) => i + 1));
    expect(rig.types("dk1").slice(0, 2)).toEqual(["log", "status:running"]);
    expect(rig.types("dk1")).toContain("tool.start");
    expect(rig.types("dk1")).toContain("usage");
    const diff = events.find((e) => e.type === "diff")!;
    expect(diff.data).toMatchObject({ files: 2, artifact: "diff.patch", branch: "tether/dk1" });
    expect(rig.edge.task("dk1").artifacts.get("diff.patch")).toContain("return a + b;");
    await waitFor(async () => (await ownContainers()).length === 0, 20_000, "container removed after the ack");
    runner.kill("SIGTERM");
    // Its own budget: three waits of up to 60 s each and one of 20 s.
  }, 240_000);

  it("survives kill -9 mid-task: the container is re-attached and every event arrives once, in order", async () => {
    // A slow model call mid-turn leaves time to kill the runner while the worker works.
    script = fixTheFailingTestScript().map((step, i) => (i === 3 ? { ...step, delayMs: 3000 } : step));
    const first = start();
    await rig.hello();
    rig.assign("dk2");
    await rig.edge.until(() => rig.edge.task("dk2").events.filter((e) => e.type === "tool.end").length >= 2, 60_000, "two tools done");
    const before = await ownContainers();
    expect(before).toHaveLength(1);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    const second = start();
    await rig.edge.until(() => rig.types("dk2").some((t) => t === "status:waiting" || t === "status:failed"), 90_000, "turn finished after the restart");
    expect(rig.types("dk2"), JSON.stringify(rig.edge.task("dk2").events.slice(-4))).toContain("status:waiting");
    const after = await ownContainers();
    expect(after.map((c) => c.Id)).toEqual(before.map((c) => c.Id));
    const events = rig.edge.task("dk2").events;
    expect(events.map((e) => e.rseq)).toEqual(events.map((_, i) => i + 1));
    const starts = events.filter((e) => e.type === "tool.start").map((e) => (e.data as { callID: string }).callID);
    expect(starts).toEqual(["toolu_list", "toolu_view", "toolu_test1", "toolu_edit", "toolu_test2"]);
    expect(events.filter((e) => e.type === "turn.end")).toHaveLength(1);
    expect(rig.edge.framesOf("hello").at(-1)).toMatchObject({ tasks: [{ taskID: "dk2", epoch: 1 }] });
    second.kill("SIGTERM");
    // Its own budget: waits of up to 60 s and 90 s, and a restart.
  }, 180_000);

  it("wall-clock limit: a worker stuck in `sleep 100000` is frozen when timeoutMinutes pass; unraised, the task fails with the reason, diff kept", async () => {
    script = [
      { reply: { content: [{ type: "tool_use", id: "toolu_stuck", name: "bash", input: { command: "echo stuck > stuck.txt && sleep 100000" } }] } },
      { reply: { content: [{ type: "text", text: "never reached" }], stop_reason: "end_turn" } },
    ];
    // A minute of 20 s: long enough for the container to start and the tool to begin; the pause lasts one such minute.
    const runner = start({ TETHER_TASK_MINUTE_MS: "20000", TETHER_BUDGET_PAUSE_MINUTES: "1" });
    await rig.hello();
    rig.assign("dk3", { prompt: "Hang.", limits: { timeoutMinutes: 1 } });
    await rig.edge.until(() => rig.types("dk3").includes("budget.reached"), 90_000, "paused at the wall-clock limit");
    const [container] = await ownContainers();
    expect((await docker.getContainer(container!.Id).inspect()).State.Paused).toBe(true);
    await rig.edge.until(() => rig.types("dk3").includes("status:failed"), 90_000, "failed at the end of the pause");
    const events = rig.edge.task("dk3").events;
    expect(events.at(-1)!.data).toMatchObject({ status: "failed", reason: expect.stringMatching(/^wall-clock limit of 1 min reached; the limit was not raised within/) });
    const t = rig.types("dk3");
    expect(t.indexOf("tool.start")).toBeGreaterThan(-1);
    expect(t).not.toContain("tool.end");
    expect(rig.edge.task("dk3").artifacts.get("diff.patch")).toContain("+++ b/stuck.txt");
    expect(rig.model.requests).toHaveLength(1);
    await waitFor(async () => (await ownContainers()).length === 0, 20_000, "container removed after the ack");
    runner.kill("SIGTERM");
  }, 200_000);

  it("worker takeover by SIGUSR1: a tool signals the agent, no inspector opens, the agent goes on", async () => {
    // Port 9229 is 240D in /proc/net/tcp; state 0A is LISTEN. The outputs name a variable, so the commands do not hold them.
    const probe = "s=none; grep -qiE ':240D 0+:0000 0A' /proc/net/tcp /proc/net/tcp6 && s=open; echo inspector:$s; kill -0 $PPID && a=alive; echo agent:$a";
    script = [
      { reply: { content: [{ type: "tool_use", id: "toolu_usr1", name: "bash", input: { command: "kill -USR1 $PPID; echo signal:$?" } }] } },
      // The next model call comes after the agent has read that tool's result: the signal is handled by then.
      { reply: { content: [{ type: "tool_use", id: "toolu_probe", name: "bash", input: { command: probe } }] } },
      { reply: { content: [{ type: "text", text: "done probing" }], stop_reason: "end_turn" } },
    ];
    const runner = start();
    await rig.hello();
    rig.assign("dk4", { prompt: "Probe." });
    await rig.edge.until(() => rig.types("dk4").some((t) => t === "status:waiting" || t === "status:failed"), 90_000, "turn over");
    expect(rig.types("dk4")).toContain("status:waiting");
    const results = JSON.stringify(rig.model.requests.map((r) => r.body));
    expect(results).toContain("signal:0");
    expect(results).toContain("agent:alive");
    expect(results).toContain("inspector:none");
    expect(results).not.toContain("inspector:open");
    runner.kill("SIGTERM");
  }, 150_000);

  it("worker memory read: a tool cannot read the agent's memory (/proc/<agent>/mem) for its proxy token", async () => {
    // Run from a file, so the command holds none of the answers it prints.
    const scan = Buffer.from(MEMORY_SCAN).toString("base64");
    script = [
      { reply: { content: [{ type: "tool_use", id: "toolu_scan", name: "bash", input: { command: `echo ${scan} | base64 -d > /tmp/scan.js && node /tmp/scan.js $PPID` } }] } },
      { reply: { content: [{ type: "text", text: "done scanning" }], stop_reason: "end_turn" } },
    ];
    const runner = start();
    await rig.hello();
    rig.assign("dk6", { prompt: "Scan." });
    await rig.edge.until(() => rig.types("dk6").some((t) => t === "status:waiting" || t === "status:failed"), 90_000, "turn over");
    const results = JSON.stringify(rig.model.requests.map((r) => r.body));
    expect(results).toContain("mem:EACCES");
    expect(results).not.toContain("token:found");
    runner.kill("SIGTERM");
  }, 150_000);

  it("disk filler: a tool writing past the task's disk bound gets ENOSPC, the task fails with the reason, the host's disk holds no more than the bound", async () => {
    script = [
      { reply: { content: [{ type: "tool_use", id: "toolu_fill", name: "bash", input: { command: "head -c 200M /dev/zero > fill.bin; echo exit:$?" } }] } },
      { reply: { content: [{ type: "tool_use", id: "toolu_wait", name: "bash", input: { command: "sleep 100000" } }] } },
    ];
    // No pool: the task's directory is then tasks/<id> (a pooled task's is its slot's).
    const runner = start({ TETHER_DISK_MB: "64", TETHER_WORKSPACE_CLEANUP: "never", TETHER_POOL_SIZE: "0" });
    await rig.hello();
    rig.assign("dk5", { prompt: "Fill the disk." });
    await rig.edge.until(() => rig.types("dk5").includes("status:failed"), 90_000, "failed with a full disk");
    expect(rig.edge.task("dk5").events.at(-1)!.data).toMatchObject({ status: "failed", reason: "workspace is full (64 MB limit)" });
    // After the ack the task's disk is unmounted and kept (cleanup "never"): its bytes are in the image, within the bound.
    const taskDir = join(rig.home, "tasks", "dk5");
    await waitFor(async () => !isMountpoint(taskDir) && (await ownContainers()).length === 0, 30_000, "the task's disk unmounted, its container removed");
    expect(readdirSync(taskDir)).toEqual([]);
    expect(statSync(`${taskDir}.img`).blocks * 512).toBeLessThanOrEqual(64 * 1024 * 1024);
    rmSync(`${taskDir}.img`);
    runner.kill("SIGTERM");
  }, 150_000);

  /** The runner's containers but the pool's waiting workers (which belong to no task). */
  async function ownContainers() {
    const all = await docker.listContainers({ all: true, filters: { label: [`tether.runner=${RUNNER_ID}`] } });
    return all.filter((c) => !c.Names.some((n) => n.startsWith("/tether-slot-")));
  }
});

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A tool's scan of the agent's writable memory for a proxy token (`tether-proxy-…`); argv[2] is the agent's pid. */
const MEMORY_SCAN = String.raw`const fs = require("fs");
const pid = process.argv[2];
let out;
try {
  const regions = fs.readFileSync("/proc/" + pid + "/maps", "utf8").split("\n").filter((l) => l.includes(" rw-p "));
  const fd = fs.openSync("/proc/" + pid + "/mem", "r");
  let found = false;
  for (const line of regions) {
    const [a, b] = line.split(" ")[0].split("-").map((x) => parseInt(x, 16));
    if (b - a > 256 * 1024 * 1024) continue;
    const buf = Buffer.alloc(b - a);
    try { fs.readSync(fd, buf, 0, b - a, a); } catch { continue; }
    if (buf.includes("tether-proxy-")) { found = true; break; }
  }
  out = found ? "token:found" : "token:none";
} catch (e) {
  out = "mem:" + e.code;
}
console.log(out);
`;
