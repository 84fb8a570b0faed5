/**
 * Other images against a real Docker engine. Three images are built offline from the local
 * base (tether-base:local): one that can run the agent (with a marker file), one without
 * `node`, one whose `node` the agent's uid may read. The sandbox's check passes the first,
 * refuses the others with their reason, and is made once per image ID. Then the runner
 * process (`tether-runner start`, allowedImages naming them) refuses a task whose environment
 * names an unlisted image and one whose allowed image cannot run the agent, before any clone
 * or container, and runs a task end to end in the allowed image: its setup step and the
 * agent's tool see the image's marker, and the workers' hardening holds there (uid 1000, no capabilities, no
 * network but loopback, the agent's memory closed to its tools).
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { TaskEnvironment } from "../shared/environment.ts";
import { DockerSandbox } from "../runner/sandbox/index.ts";
import { FakeEdge } from "../runner/testing/fake-edge.ts";
import { assignTask, eventTypes, spawnRunner, untilHello } from "./support/fake-edge-runner.ts";
import { byConversation, type FakeModel, type ScriptStep, startFakeModel } from "./fake-model/index.ts";
import { createFixtureRepo } from "./fake-model/scripts.ts";
import { describeDocker } from "./support/docker.ts";
import { ensureWorkerImage } from "./worker-image-support.ts";

const WORKER_IMAGE = process.env.TETHER_WORKER_IMAGE ?? "tether-worker:latest";
const BASE = "tether-base:local";
const ALT = "tether-worker:envs-alt";
const NO_NODE = "tether-worker:envs-nonode";
const READABLE_NODE = "tether-worker:envs-readable-node";
const ALT_ALIAS = "tether-worker:envs-alt-alias";
const MARKER = "built-for-the-image-test";
const RUNNER_ID = `images-docker-${process.pid}`;

/** Builds `tag` from a Dockerfile with no context and no network. */
function buildImage(tag: string, dockerfile: string): void {
  const built = spawnSync("docker", ["build", "--network", "none", "-t", tag, "-"], { input: dockerfile, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`docker build ${tag} failed: ${built.stderr.slice(-2000)}`);
}

/** The environment's setup reads the image's marker: the setup container runs in that image too. */
function environmentWith(image: string): TaskEnvironment {
  return { id: "env_0000000000000001", name: "alt", setup: "cat /etc/tether-envs-alt", network: { setup: [], agent: [] }, variables: {}, image };
}

describeDocker("other images for a task's containers", () => {
  const docker = new Docker();
  let root: string;
  let checks = 0;

  beforeAll(async () => {
    await ensureWorkerImage(WORKER_IMAGE);
    buildImage(ALT, `FROM ${BASE}\nRUN echo ${MARKER} > /etc/tether-envs-alt\n`);
    buildImage(NO_NODE, `FROM ${BASE}\nRUN rm "$(command -v node)"\n`);
    buildImage(READABLE_NODE, `FROM ${BASE}\nRUN chmod 0755 "$(readlink -f "$(command -v node)")"\n`);
    spawnSync("docker", ["tag", ALT, ALT_ALIAS]);
    root = mkdtempSync(join(tmpdir(), "tether-images-"));
    // Counts the image checks' containers, to see the answers kept per image ID.
    const create = docker.createContainer.bind(docker);
    docker.createContainer = ((options: Docker.ContainerCreateOptions) => {
      if (options.Labels?.["tether.role"] === "check") checks += 1;
      return create(options);
    }) as typeof docker.createContainer;
  }, 600_000);

  afterAll(async () => {
    for (const info of await docker.listContainers({ all: true, filters: { label: [`tether.runner=${RUNNER_ID}`] } })) {
      await docker.getContainer(info.Id).remove({ force: true }).catch(() => {});
    }
    spawnSync("docker", ["rmi", ALT_ALIAS, NO_NODE, READABLE_NODE]);
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("checks an image under the workers' hardening: passes one that runs the agent, once per image ID; refuses no node and a readable node with the reason", async () => {
    const sandbox = new DockerSandbox({ docker, image: WORKER_IMAGE, runnerID: RUNNER_ID, agentDir: join(root, "agent") });
    checks = 0;
    expect(await sandbox.checkImage(ALT)).toEqual({ ok: true, value: undefined });
    expect(await sandbox.checkImage(ALT)).toEqual({ ok: true, value: undefined });
    expect(await sandbox.checkImage(ALT_ALIAS)).toEqual({ ok: true, value: undefined });
    expect(checks).toBe(1);

    const noNode = await sandbox.checkImage(NO_NODE);
    expect(noNode).toEqual({ ok: false, error: "it has no node on its PATH: the agent needs node 20 or later" });
    const readable = await sandbox.checkImage(READABLE_NODE);
    expect(readable.ok).toBe(false);
    expect(!readable.ok && readable.error).toMatch(/^its node binary is readable by the agent's uid \(1000\), so the agent's tools could read its memory/);
    expect(await sandbox.checkImage("tether-worker:envs-never-built")).toEqual({ ok: false, error: "it is not on this runner's Docker host (pull or build it there)" });

    const without = new DockerSandbox({ docker, image: WORKER_IMAGE, runnerID: RUNNER_ID });
    expect(await without.checkImage(ALT)).toEqual({ ok: false, error: "this runner has no directory for the agent other images run (agentDir)" });
  }, 240_000);

  it("the runner refuses an unlisted image and one that cannot run the agent before anything runs, and runs a task end to end in an allowed image", async () => {
    const edge = new FakeEdge();
    await edge.listen();
    const repo = join(root, "fixture");
    await createFixtureRepo(repo, { git: true });
    // Output names variables, so the command text holds none of the answers.
    const probe = [
      "cat /etc/tether-envs-alt",
      "echo uid:$(id -u)",
      "echo cap:$(grep CapEff /proc/self/status | tr -d '[:space:]' | cut -d: -f2)",
      "echo net:$(ls /sys/class/net | tr '\\n' ' ')",
      "m=closed; cat /proc/$PPID/environ >/dev/null 2>&1 && m=open; echo agent-memory:$m",
    ].join("; ");
    const script: ScriptStep[] = [
      { reply: { content: [{ type: "tool_use", id: "toolu_probe", name: "bash", input: { command: probe } }] } },
      { reply: { content: [{ type: "text", text: "probed" }], stop_reason: "end_turn" } },
    ];
    const model: FakeModel = await startFakeModel({ script: byConversation(() => script), listen: { port: 0 } });
    const home = mkdtempSync(join(root, "home-"));
    let runner: ChildProcess | undefined;
    try {
      const env = { TETHER_WORKER_IMAGE: WORKER_IMAGE, TETHER_ALLOWED_IMAGES: `${ALT},${NO_NODE}`, TETHER_DISK_MB: "0", TETHER_MEMORY_MB: "512", TETHER_LOG_LEVEL: "warn" };
      runner = spawnRunner({ edge, home, runnerID: RUNNER_ID, modelURL: model.url!, env });
      await untilHello(edge);
      const types = (id: string) => eventTypes(edge, id);
      const assign = (id: string, image: string) => assignTask(edge, id, repo, { prompt: "Probe.", environment: environmentWith(image) });
      const reasonOf = (id: string) => (edge.task(id).events.at(-1)!.data as { reason?: string }).reason;

      assign("im1", READABLE_NODE);
      assign("im2", NO_NODE);
      await edge.until(() => types("im1").includes("status:failed") && types("im2").includes("status:failed"), 60_000, "both refused");
      expect(reasonOf("im1")).toBe(
        `the environment's image ${READABLE_NODE} is not allowed on this runner (allowedImages): it allows ${ALT}, ${NO_NODE} besides its worker image`,
      );
      expect(reasonOf("im2")).toBe(`the environment's image ${NO_NODE} cannot run the agent: it has no node on its PATH: the agent needs node 20 or later`);
      for (const id of ["im1", "im2"]) expect(types(id)).not.toContain("tool.start");
      expect(model.requests).toHaveLength(0);

      assign("im3", ALT);
      await edge.until(() => types("im3").some((t) => t === "status:waiting" || t === "status:failed"), 120_000, "the turn in the allowed image");
      expect(types("im3"), JSON.stringify(edge.task("im3").events.slice(-3))).toContain("status:waiting");
      const setupOutput = edge.task("im3").events.filter((e) => e.type === "setup.output").map((e) => (e.data as { text: string }).text);
      expect(setupOutput.join("")).toBe(`${MARKER}\n`);
      expect(edge.task("im3").events.find((e) => e.type === "setup.done")?.data).toMatchObject({ ok: true });
      const results = JSON.stringify(model.requests.map((r) => r.body));
      expect(results).toContain(MARKER);
      expect(results).toContain("uid:1000");
      expect(results).toContain("cap:0000000000000000");
      expect(results).toContain("net:lo\\n");
      expect(results).toContain("agent-memory:closed");
      expect(results).not.toContain("agent-memory:open");
    } finally {
      runner?.kill("SIGTERM");
      if (runner && runner.exitCode === null) await new Promise((r) => runner!.once("exit", r));
      await model.close();
      await edge.close();
    }
  }, 300_000);
});
