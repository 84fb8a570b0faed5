/**
 * The warm pool against a real Docker engine: `tether-runner start` with the worker image,
 * the real model proxy in front of the stand-in model, git on a local fixture repository, and
 * the fake edge. A task runs end to end in a pooled worker (the container that waited, renamed
 * for its task), the pool refills after the take, a pooled worker has the limits and
 * isolation of any other (their inspected HostConfig compared), a new image under the tag
 * replaces the waiting workers, a waiting worker that dies is replaced, the egress proxy
 * reaches a pooled worker through the moved socket, poolSize 0 takes the
 * path with no pool, and a stopped runner leaves no pooled container behind.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeEach, expect, it } from "vitest";
import { fixTheFailingTestScript } from "./fake-model/scripts.ts";
import { byConversation, type ScriptStep } from "./fake-model/index.ts";
import { describeDocker } from "./support/docker.ts";
import { useRunnerRig } from "./support/fake-edge-runner.ts";
import { ensureWorkerImage } from "./worker-image-support.ts";

const IMAGE = process.env.TETHER_WORKER_IMAGE ?? "tether-worker:latest";
/** The runner's tag in the image-change test: this image, then one built FROM it with a label more. */
const SWAP_TAG = `tether-worker:pool-swap-${process.pid}`;
const RUNNER_ID = `pool-docker-${process.pid}`;
const docker = new Docker();

describeDocker("tether-runner's warm pool with Docker", () => {
  let script: ScriptStep[];
  const output: string[] = [];
  const rig = useRunnerRig({
    name: "tpool",
    prepare: () => ensureWorkerImage(IMAGE),
    prepareTimeoutMs: 600_000,
    script: byConversation(() => script),
    removeContainersOf: RUNNER_ID,
  });
  beforeEach(() => {
    output.length = 0;
  });
  afterAll(() => {
    spawnSync("docker", ["rmi", SWAP_TAG, `${SWAP_TAG}-b`], { stdio: "ignore" });
  });

  function start(extraEnv: Record<string, string> = {}): ChildProcess {
    const env = {
      TETHER_WORKER_IMAGE: IMAGE,
      TETHER_MEMORY_MB: "512",
      TETHER_CPUS: "1",
      TETHER_PIDS: "128",
      TETHER_DISK_MB: "64",
      TETHER_LOG_LEVEL: "info",
      TETHER_STOP_GRACE_SECONDS: "3",
      ...extraEnv,
    };
    const child = rig.start({ runnerID: RUNNER_ID, env, stdio: "pipe" });
    const keep = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 400) output.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    return child;
  }

  const log = () => output.join("").slice(-6000);
  const waiting = async () => (await ownContainers()).filter((c) => c.Labels["tether.role"] === "pool" && c.Names.some((n) => n.startsWith("/tether-slot-")) && c.State === "running");

  it("runs a task end to end in the pooled worker that waited, then refills the pool", async () => {
    script = fixTheFailingTestScript();
    const runner = start();
    await rig.hello(60_000);
    await waitFor(async () => (await waiting()).length === 1, 90_000, "a pooled worker waiting", log);
    const [pooled] = await waiting();
    rig.assign("pl1");
    await rig.edge.until(() => rig.types("pl1").includes("status:waiting") || rig.types("pl1").includes("status:failed"), 90_000, "first turn");
    expect(rig.types("pl1"), log()).toContain("status:waiting");
    expect(rig.types("pl1")).toContain("tool.start");
    // The task ran in the container that waited: renamed for the task, the journal's container.
    const taken = await docker.getContainer(pooled!.Id).inspect();
    expect(taken.Name).toBe("/tether-task-pl1");
    expect(rig.edge.task("pl1").events.find((e) => e.type === "diff")).toBeUndefined();
    // The pool refills: another worker waits beside the task's (capacity 2 leaves room for it).
    await waitFor(async () => (await waiting()).some((c) => c.Id !== pooled!.Id), 90_000, "the pool refilled", log);
    rig.edge.command("pl1", { seq: 3, kind: "finish" });
    await rig.edge.until(() => rig.types("pl1").includes("status:succeeded"), 60_000, "finished");
    const diff = rig.edge.task("pl1").events.find((e) => e.type === "diff");
    expect(diff?.data).toMatchObject({ files: 1, branch: "tether/pl1" });
    expect(rig.edge.task("pl1").artifacts.get("diff.patch")).toContain("return a + b;");
    // After the ack the task's container goes; the waiting one stays, and only it.
    await waitFor(async () => (await ownContainers()).length === 1, 30_000, "only the waiting worker left", log);
    await stopChild(runner, "SIGTERM");
    // A stopped runner leaves no pooled worker and no slot behind.
    expect(await ownContainers()).toEqual([]);
    expect(readdirSync(join(rig.home, "tasks")).filter((n) => n.startsWith("slot-"))).toEqual([]);
  }, 300_000);

  it("gives a pooled worker its task's egress proxy: the socket moved into the slot's directory reaches it", async () => {
    script = [
      { reply: { content: [{ type: "tool_use", id: "toolu_net", name: "bash", input: { command: "curl -sS -m 10 -o /dev/null http://pool-egress.invalid/ ; echo rc=$?" } }] } },
      { reply: { content: [{ type: "text", text: "Tried." }] } },
    ];
    start();
    await rig.hello(60_000);
    await waitFor(async () => (await waiting()).length === 1, 90_000, "a pooled worker waiting", log);
    const [pooled] = await waiting();
    rig.assign("pl5");
    await rig.edge.until(() => rig.types("pl5").includes("status:waiting") || rig.types("pl5").includes("status:failed"), 90_000, "the turn");
    expect(rig.types("pl5"), log()).toContain("status:waiting");
    expect((await docker.getContainer(pooled!.Id).inspect()).Name).toBe("/tether-task-pl5");
    // The attempt reached the runner's egress proxy, which decided it (denied: no rule allows the host).
    const egress = rig.edge.task("pl5").events.filter((e) => e.type === "egress");
    expect(egress, log()).not.toHaveLength(0);
    expect(egress[0]!.data).toMatchObject({ host: "pool-egress.invalid", phase: "agent", allowed: false });
  }, 300_000);

  it("gives a pooled worker exactly the HostConfig of a worker started for its task", async () => {
    script = [{ reply: { content: [{ type: "tool_use", id: "toolu_wait", name: "bash", input: { command: "sleep 100000" } }] } }];
    start({ TETHER_POOL_SIZE: "1", TETHER_CAPACITY: "2" });
    await rig.hello(60_000);
    await waitFor(async () => (await waiting()).length === 1, 90_000, "a pooled worker waiting", log);
    const [pooled] = await waiting();
    // A task with variables of its own does not fit the pool: its worker is started for it, with the same resources.
    const environment = { id: "env1", name: "vars", network: { setup: [], agent: [] }, variables: { POOL_TEST_VAR: "1" } };
    rig.assign("pl2", { prompt: "Wait.", environment });
    await rig.edge.until(() => rig.types("pl2").includes("tool.start"), 90_000, "the unpooled task's tool");
    const fresh = (await ownContainers()).find((c) => c.Labels["tether.task"] === "pl2");
    expect(fresh, log()).toBeDefined();
    const a = (await docker.getContainer(pooled!.Id).inspect()) as Docker.ContainerInspectInfo;
    const b = (await docker.getContainer(fresh!.Id).inspect()) as Docker.ContainerInspectInfo;
    // The host side of each mount is the slot's or the task's; where and how the container sees it is the same.
    const view = (c: Docker.ContainerInspectInfo) => ({ ...c.HostConfig, Binds: (c.HostConfig.Binds ?? []).map((bind) => bind.split(":").slice(1).join(":")).sort() });
    expect(view(a)).toEqual(view(b));
    expect(a.HostConfig).toMatchObject({ NetworkMode: "none", CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], ReadonlyRootfs: true, Memory: 512 * 1024 * 1024, PidsLimit: 128, NanoCpus: 1e9, Init: true });
    expect(a.Config.User).toBe(b.Config.User);
    expect(a.Config.Image).toBe(b.Config.Image);
    expect(a.Config.Cmd).toEqual(b.Config.Cmd);
    expect([...a.Config.Env].sort()).toEqual(b.Config.Env.filter((e) => e !== "POOL_TEST_VAR=1").sort());
    expect(a.Config.OpenStdin).toBe(true);
    // The task's disk bound holds for the pooled worker's workspace too.
    const df = spawnSync("docker", ["exec", pooled!.Id, "df", "-k", "/workspace"], { encoding: "utf8" });
    const sizeKB = Number(df.stdout.trim().split("\n").at(-1)!.split(/\s+/)[1]);
    expect(sizeKB).toBeGreaterThan(0);
    expect(sizeKB).toBeLessThanOrEqual(64 * 1024);
  }, 300_000);

  it("replaces the waiting workers when the tag names a new image, and a waiting worker that dies", async () => {
    script = fixTheFailingTestScript();
    tagImage(IMAGE, SWAP_TAG);
    start({ TETHER_WORKER_IMAGE: SWAP_TAG });
    await rig.hello(60_000);
    await waitFor(async () => (await waiting()).length === 1, 90_000, "a pooled worker waiting", log);
    const [first] = await waiting();
    // A waiting worker that dies is replaced.
    await docker.getContainer(first!.Id).kill();
    await waitFor(async () => (await waiting()).some((c) => c.Id !== first!.Id), 90_000, "the dead worker replaced", log);
    const [second] = (await waiting()).filter((c) => c.Id !== first!.Id);
    // A new image under the runner's tag: the task does not get the old worker, and the pool is made again.
    const newImage = buildDerived(IMAGE, `${SWAP_TAG}-b`);
    tagImage(`${SWAP_TAG}-b`, SWAP_TAG);
    rig.assign("pl3");
    await rig.edge.until(() => rig.types("pl3").includes("status:waiting") || rig.types("pl3").includes("status:failed"), 90_000, "first turn");
    expect(rig.types("pl3"), log()).toContain("status:waiting");
    const own = await ownContainers();
    const taskContainer = own.find((c) => c.Labels["tether.task"] === "pl3" || c.Names.includes("/tether-task-pl3"));
    expect(taskContainer, log()).toBeDefined();
    expect(taskContainer!.ImageID).toBe(newImage);
    expect(own.map((c) => c.Id)).not.toContain(second!.Id);
    await waitFor(async () => (await waiting()).some((c) => c.ImageID === newImage), 90_000, "the pool made from the new image", log);
    expect((await waiting()).every((c) => c.ImageID === newImage)).toBe(true);
  }, 300_000);

  it("with poolSize 0 keeps no worker waiting and starts each task's worker for it", async () => {
    script = fixTheFailingTestScript();
    start({ TETHER_POOL_SIZE: "0" });
    await rig.hello(60_000);
    rig.assign("pl4");
    await rig.edge.until(() => rig.types("pl4").includes("status:waiting") || rig.types("pl4").includes("status:failed"), 90_000, "first turn");
    expect(rig.types("pl4"), log()).toContain("status:waiting");
    const own = await ownContainers();
    expect(own).toHaveLength(1);
    expect(own[0]!.Labels).toMatchObject({ "tether.runner": RUNNER_ID, "tether.task": "pl4" });
    expect(own[0]!.Labels["tether.role"]).toBeUndefined();
    expect(existsSync(join(rig.home, "tasks", "pl4"))).toBe(true);
  }, 300_000);

  async function ownContainers(): Promise<Docker.ContainerInfo[]> {
    return docker.listContainers({ all: true, filters: { label: [`tether.runner=${RUNNER_ID}`] } });
  }
});

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

function tagImage(from: string, to: string): void {
  const r = spawnSync("docker", ["tag", from, to], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`docker tag ${from} ${to}: ${r.stderr}`);
}

/** An image FROM `base` with one label more (so another ID), tagged `tag`; its ID. */
function buildDerived(base: string, tag: string): string {
  const r = spawnSync("docker", ["build", "-q", "-t", tag, "-"], { input: `FROM ${base}\nLABEL tether.test.pool-swap="${process.pid}"\n`, encoding: "utf8", env: { ...process.env, DOCKER_BUILDKIT: "0" } });
  if (r.status !== 0) throw new Error(`docker build: ${r.stderr}`);
  return r.stdout.trim();
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string, log: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${log()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
