/**
 * The Docker sandbox against the real engine: hardening seen from inside the container, output
 * and stdin, exits (crash, OOM, cancel with grace), a contained fork bomb, and recovery after
 * the controlling runner process is killed. The worker is a small stand-in script run by the
 * base image's node; the model proxy is the real one, in front of a local stand-in upstream.
 */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunnerToWorker } from "../shared/protocol.ts";
import { cloneRepo, commitAll, makeDiff } from "../runner/git/index.ts";
import { ModelProxy } from "../runner/proxy/index.ts";
import { DockerSandbox } from "../runner/sandbox/index.ts";
import type { ExitInfo, SandboxSpec, WorkerHandle, WorkerSink } from "../runner/ports.ts";
import { keyOf, startFakeModel } from "./fake-model/index.ts";
import { createFixtureRepo, fixTheFailingTestScript } from "./fake-model/scripts.ts";
import { describeDocker } from "./support/docker.ts";
import { STANDIN_WORKER } from "./support/standin-worker.ts";
import { ensureWorkerImage } from "./worker-image-support.ts";

const IMAGE = process.env.TETHER_TEST_BASE_IMAGE ?? "tether-base:local";
const MODEL_KEY = "sk-ant-api03-test-only-key-never-in-a-container-1234";
const GIT_TOKEN = "ghp_test_only_token_never_in_a_container_5678";
const exec = promisify(execFile);


function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Collected {
  texts: string[];
  wseqs: number[];
  bad: string[];
  stderr: string;
  exit: ExitInfo | undefined;
}

function collector(): { sink: WorkerSink; got: Collected } {
  const got: Collected = { texts: [], wseqs: [], bad: [], stderr: "", exit: undefined };
  const sink: WorkerSink = {
    line(parsed, raw) {
      if (!parsed.ok) return void got.bad.push(raw);
      got.wseqs.push(parsed.value.wseq);
      if (parsed.value.type === "agent.text") got.texts.push(parsed.value.data.text);
    },
    stderr(text) {
      got.stderr += text;
    },
    exit(info) {
      got.exit = info;
    },
  };
  return { sink, got };
}

/** Waits until `check` holds, calling `refresh` (when given) before each look. */
async function waitFor(what: string | (() => string), check: () => boolean, ms = 15_000, refresh?: () => Promise<void>): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    await refresh?.();
    if (check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The engine's kill, die and stop events for one finished container, in order, as "kill 15", "die 137", "stop". */
async function containerEvents(docker: Docker, id: string): Promise<string[]> {
  const { Created, State } = await docker.getContainer(id).inspect();
  const since = Math.floor(Date.parse(Created) / 1000);
  const until = Math.ceil(Date.parse(State.FinishedAt) / 1000) + 1;
  const stream = (await docker.getEvents({ since, until, filters: { container: [id] } })) as NodeJS.ReadableStream;
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  const events = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: Record<string, string> } });
  return events.flatMap((e) => {
    if (e.Action === "kill") return [`kill ${e.Actor.Attributes.signal}`];
    if (e.Action === "die") return [`die ${e.Actor.Attributes.exitCode}`];
    return e.Action === "stop" ? ["stop"] : [];
  });
}

describeDocker("docker sandbox (real engine)", () => {
  const docker = new Docker();
  const runnerID = `test-${process.pid}-${Date.now().toString(36)}`;
  let root: string;
  let standinDir: string;
  let upstream: http.Server;
  let proxy: ModelProxy;
  let sandbox: DockerSandbox;
  let n = 0;

  const options = () => ({
    image: IMAGE,
    runnerID,
    command: ["node", "/opt/standin/worker.mjs"],
    extraBinds: [`${standinDir}:/opt/standin:ro`],
  });

  async function spec(resources = { memoryMB: 128, cpus: 1, pids: 64 }): Promise<SandboxSpec> {
    const taskID = `task-${++n}`;
    const base = join(root, taskID);
    const reg = await proxy.register(taskID, {}, () => {}, () => {});
    await mkdir(join(base, "workspace"), { recursive: true });
    await mkdir(join(base, "state"), { recursive: true });
    return { taskID, workspaceDir: join(base, "workspace"), stateDir: join(base, "state"), proxySocketPath: reg.socketPath, resources };
  }

  function startLine(taskID: string, prompt: string, token = "unused"): RunnerToWorker {
    return {
      type: "start",
      task: { taskID, prompt, limits: {}, repo: { url: "file:///repo" } },
      proxy: { socketPath: "/run/tether/model.sock", token },
    };
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-docker-"));
    standinDir = join(root, "standin");
    await mkdir(standinDir);
    await writeFile(join(standinDir, "worker.mjs"), STANDIN_WORKER);
    upstream = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ id: "msg_1", model: "claude-sonnet-4-5", content: [{ type: "text", text: "hello from upstream" }], usage: { input_tokens: 3, output_tokens: 4 } }));
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", () => resolve()));
    proxy = new ModelProxy({ upstreamURL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, apiKey: MODEL_KEY, socketDir: join(root, "proxy") });
    await proxy.start();
    sandbox = new DockerSandbox(options());
  });

  afterAll(async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`tether.runner=${runnerID}`] } });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => {})));
    await proxy?.close();
    upstream?.closeAllConnections();
    upstream?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("runs the worker hardened: uid 1000, only lo, no capabilities, CPU/memory/pids limits, read-only root, no secret inside, the proxy answers", async () => {
    const s = await spec({ memoryMB: 256, cpus: 0.5, pids: 64 });
    // A real clone with a token in the runner's config, as the runner does it.
    const src = join(root, "src");
    await mkdir(src);
    const git = (...args: string[]) => exec("git", args, { cwd: src, env: { ...process.env, GIT_AUTHOR_NAME: "a", GIT_AUTHOR_EMAIL: "a@x", GIT_COMMITTER_NAME: "a", GIT_COMMITTER_EMAIL: "a@x" } });
    await git("init", "-q");
    await writeFile(join(src, "a.txt"), "a\n");
    await git("add", "-A");
    await git("commit", "-qm", "a");
    const clone = await cloneRepo({ url: `file://${src}`, dir: s.workspaceDir, branch: "tether/x", credentials: { httpsToken: GIT_TOKEN } });
    expect(clone.ok).toBe(true);
    const reg = await proxy.register(s.taskID, {}, () => {}, () => {});
    const { sink, got } = collector();
    const worker = await sandbox.start({ ...s, proxySocketPath: reg.socketPath }, sink);
    const info = await docker.getContainer(worker.id).inspect();
    expect(info.Config.Labels).toMatchObject({ "tether.runner": runnerID, "tether.task": s.taskID });
    expect(info.HostConfig).toMatchObject({ NetworkMode: "none", CapDrop: ["ALL"], SecurityOpt: ["no-new-privileges"], Memory: 256 * 1024 * 1024, MemorySwap: 256 * 1024 * 1024, NanoCpus: 500_000_000, PidsLimit: 64, Init: true, AutoRemove: false, ReadonlyRootfs: true });
    expect(info.HostConfig.Tmpfs).toEqual({ "/tmp": "rw,nosuid,nodev,size=128m" });
    expect(info.HostConfig.LogConfig).toEqual({ Type: "json-file", Config: { "max-size": "10m", "max-file": "2" } });
    const needles = Buffer.from(JSON.stringify([MODEL_KEY, GIT_TOKEN])).toString("base64");
    worker.send(startLine(s.taskID, `inspect ${needles}`, reg.token));
    await waitFor("the inspection", () => got.texts.length > 0);
    const seen = JSON.parse(got.texts[0] ?? "{}");
    expect(seen.uid).toBe(1000);
    expect(seen.gid).toBe(1000);
    expect(seen.nets).toEqual(["lo"]);
    expect(seen.capEff).toBe("0000000000000000");
    expect(seen.noNewPrivs).toBe("1");
    // The root is read-only: the workspace and state directories take a file, and so do two
    // size-bounded tmpfs, /tmp (half the memory limit) and Docker's /dev/shm (64 MB).
    expect(seen.writable).toEqual(["/dev/shm", "/state", "/tmp", "/workspace"]);
    expect(seen.mounts.find((m: string) => m.startsWith("tmpfs /tmp "))).toMatch(/size=131072k/);
    expect(seen.mounts.find((m: string) => / \/dev\/shm /.test(m))).toMatch(/^shm \/dev\/shm tmpfs .*size=65536k/);
    expect(seen.secretInEnv).toBe(false);
    expect(seen.envNames).toEqual([]);
    expect(seen.secretFiles).toEqual([]);
    expect(seen.proxy.status).toBe(200);
    expect(JSON.parse(seen.proxy.body).content[0].text).toBe("hello from upstream");
    expect(seen.mounts.some((m: string) => m.includes(" /run/tether ") && / ro[ ,]/.test(m))).toBe(true);
    expect(readFileSync(join(s.workspaceDir, "written-by-worker.txt"), "utf8")).toBe("ok\n");
    // The agent's own .git works inside; the runner's repository is not in the container.
    expect(seen.gitStatus).toBe("?? written-by-worker.txt\n");
    await worker.stop(1000);
    await worker.remove();
  }, 40_000);

  it("delivers output lines and stdin messages, and reports a bad line as an error without stopping", async () => {
    const s = await spec();
    const { sink, got } = collector();
    const worker = await sandbox.start(s, sink);
    worker.send(startLine(s.taskID, "echo"));
    await waitFor("started", () => got.texts.includes("started"));
    worker.send({ type: "message", text: "one" });
    worker.send({ type: "message", text: "two" });
    await waitFor("the echoes", () => got.texts.length >= 3);
    expect(got.texts).toEqual(["started", "echo:one", "echo:two"]);
    expect(got.wseqs).toEqual([1, 2, 3]);
    // A line over the 128 KiB bound arrives as one short error, not 300 KB and not a crash.
    expect(got.bad).toEqual(["this is not json", `${"x".repeat(200)}…`]);
    worker.send({ type: "cancel" });
    await waitFor("the exit", () => got.exit !== undefined);
    expect(got.exit).toEqual({ exitCode: 0, reason: "exited", message: "exited with code 0" });
    await worker.remove();
    await expect(docker.getContainer(worker.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  }, 30_000);

  it("reports a crash with its exit code, after the last line and stderr; later messages are dropped with a warning", async () => {
    const s = await spec();
    const { sink, got } = collector();
    const warnings: { type?: string; msg?: string }[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const worker = await new DockerSandbox({ ...options(), logger }).start(s, sink);
    worker.send(startLine(s.taskID, "crash"));
    await waitFor("the exit", () => got.exit !== undefined);
    expect(got.texts).toEqual(["about to crash"]);
    expect(got.stderr).toContain("boom");
    expect(got.exit).toEqual({ exitCode: 3, reason: "exited", message: "exited with code 3" });
    // Messages to an exited worker are dropped with a warning, never thrown.
    expect(() => worker.send({ type: "message", text: "too late" })).not.toThrow();
    expect(() => worker.send({ type: "cancel" })).not.toThrow();
    expect(warnings.map((w) => [w.msg, w.type])).toEqual([
      ["worker stdin is closed; message dropped", "message"],
      ["worker stdin is closed; message dropped", "cancel"],
    ]);
    await worker.remove();
  }, 30_000);

  it("reports a memory hog as killed for out of memory", async () => {
    const s = await spec({ memoryMB: 64, cpus: 1, pids: 64 });
    const { sink, got } = collector();
    const worker = await sandbox.start(s, sink);
    worker.send(startLine(s.taskID, "oom"));
    await waitFor("the exit", () => got.exit !== undefined, 30_000);
    expect(got.texts).toEqual(["allocating"]);
    expect(got.exit).toEqual({ exitCode: 137, reason: "oom", message: "killed by the kernel: out of memory (limit 64 MB)" });
    await worker.remove();
  }, 40_000);

  it("stops a worker that ignores SIGTERM after the grace period", async () => {
    const s = await spec();
    const { sink, got } = collector();
    const worker = await sandbox.start(s, sink);
    worker.send(startLine(s.taskID, "stubborn"));
    await waitFor("the worker", () => got.texts.includes("stubborn"));
    const info = await worker.stop(1000);
    expect(info).toEqual({ exitCode: 137, reason: "killed", message: "stopped by the runner (exit code 137)" });
    expect(got.exit).toEqual(info);
    // SIGTERM reached the running worker through docker-init, which went on and answered it.
    expect(got.texts).toContain("ignoring SIGTERM");
    // The engine's own record: SIGTERM, then SIGKILL, then the exit with 137.
    expect(await containerEvents(docker, worker.id)).toEqual(["kill 15", "kill 9", "die 137", "stop"]);
    const state = await docker.getContainer(worker.id).inspect();
    expect(state.State).toMatchObject({ Running: false, OOMKilled: false, ExitCode: 137 });
    await worker.remove();
  }, 30_000);

  it("stops a worker that honours SIGTERM without waiting for the grace", async () => {
    const s = await spec();
    const { sink, got } = collector();
    const worker = await sandbox.start(s, sink);
    worker.send(startLine(s.taskID, "echo"));
    await waitFor("started", () => got.texts.includes("started"));
    const info = await worker.stop(10_000);
    expect(info.reason).toBe("killed");
    expect(info.exitCode).toBe(143);
    await worker.remove();
  }, 30_000);

  it("freezes a worker (docker pause) and thaws it; a second thaw is no error; a frozen worker stops", async () => {
    const s = await spec();
    const { sink, got } = collector();
    const worker = await sandbox.start(s, sink);
    worker.send(startLine(s.taskID, "echo"));
    await waitFor("started", () => got.texts.includes("started"));
    await worker.freeze();
    expect((await docker.getContainer(worker.id).inspect()).State).toMatchObject({ Running: true, Paused: true });
    await worker.thaw();
    expect((await docker.getContainer(worker.id).inspect()).State.Paused).toBe(false);
    await worker.thaw();
    await worker.freeze();
    const info = await worker.stop(10_000);
    expect(info.reason).toBe("killed");
    expect((await docker.getContainer(worker.id).inspect()).State).toMatchObject({ Running: false, Paused: false });
    await worker.remove();
  }, 30_000);

  it("contains a fork bomb within the pids limit, and the host goes on", async () => {
    const s = await spec({ memoryMB: 128, cpus: 1, pids: 32 });
    const { sink, got } = collector();
    const worker = await sandbox.start(s, sink);
    worker.send(startLine(s.taskID, "bomb"));
    await waitFor("the bomb", () => got.texts.includes("bombing"));
    await waitFor("the bomb's end", () => got.texts.some((t) => t.startsWith("bomb: ")));
    const [, started, failure] = got.texts.find((t) => t.startsWith("bomb: "))?.match(/^bomb: (\d+) started, then (\w+)$/) ?? [];
    expect(failure).toBe("EAGAIN");
    expect(Number(started)).toBeLessThan(32);
    const stats = (await docker.getContainer(worker.id).stats({ stream: false })) as { pids_stats?: { current?: number; limit?: number } };
    expect(stats.pids_stats?.limit).toBe(32);
    expect(stats.pids_stats?.current).toBeLessThanOrEqual(32);
    // The host still starts processes.
    const { stdout } = await exec("node", ["-e", "console.log('host ok')"]);
    expect(stdout.trim()).toBe("host ok");
    const info = await worker.stop(0);
    expect(info.reason).toBe("killed");
    await worker.remove();
  }, 40_000);

  it("recovers a running worker after the controlling process is killed: output replayed from the start, stdin works", async () => {
    const s = await spec();
    // A separate runner process starts the container and is then SIGKILLed.
    const script = join(root, "controller.mts");
    await writeFile(
      script,
      `import { DockerSandbox } from ${JSON.stringify(join(process.cwd(), "runner/sandbox/index.ts"))};
const sandbox = new DockerSandbox(${JSON.stringify(options())});
const spec = ${JSON.stringify(s)};
let lines = 0;
const w = await sandbox.start(spec, { line() { if (++lines === 3) console.log("READY " + w.id); }, stderr() {}, exit() {} });
w.send(${JSON.stringify(startLine(s.taskID, "ticker"))});
setInterval(() => {}, 1000);
`,
    );
    // node itself runs the controller (tsx as a loader, no wrapper process), so the pid killed is the one attached.
    const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: process.cwd(), stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    try {
      await waitFor(() => `the controller (stderr: ${err})`, () => out.includes("READY"), 20_000);
    } finally {
      child.kill("SIGKILL");
    }
    expect(await exited).toBe("SIGKILL");
    expect(processAlive(child.pid ?? 0)).toBe(false);
    const containerID = out.match(/READY (\w+)/)?.[1] ?? "";
    // The container outlives its controller and keeps writing while nobody listens.
    const container = docker.getContainer(containerID);
    const written = async () => ((await container.logs({ stdout: true, stderr: false })) as Buffer).toString("latin1");
    let log = "";
    await waitFor("ten lines written with no one attached", () => log.includes('"wseq":10,'), 20_000, async () => void (log = await written()));
    expect((await container.inspect()).State.Running).toBe(true);

    const recovered = new DockerSandbox(options());
    const { sink, got } = collector();
    const handles = await recovered.recover((taskID) => (taskID === s.taskID ? sink : undefined));
    const handle = handles.find((h) => h.taskID === s.taskID) as WorkerHandle;
    expect(handle.id).toBe(containerID);
    await waitFor("the replay", () => got.wseqs.length >= 10);
    expect(got.wseqs.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    handle.send({ type: "message", text: "after recovery" });
    await waitFor("the echo", () => got.texts.includes("echo:after recovery"));
    // Replay and follow join with no gap and no repeat.
    expect(got.wseqs).toEqual(got.wseqs.map((_, i) => i + 1));
    const info = await handle.stop(1000);
    expect(info.reason).toBe("killed");
    await handle.remove();
  }, 60_000);

  it("reaches the proxy of a restarted runner through the same mounted directory", async () => {
    const upstreamURL = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    const first = new ModelProxy({ upstreamURL, apiKey: MODEL_KEY, socketDir: join(root, "restart-proxy") });
    await first.start();
    const s = await spec();
    const reg = await first.register(s.taskID, {}, () => {}, () => {});
    const { sink, got } = collector();
    const worker = await sandbox.start({ ...s, proxySocketPath: reg.socketPath }, sink);
    worker.send(startLine(s.taskID, "echo", reg.token));
    worker.send({ type: "message", text: "call" });
    await waitFor("the first call", () => got.texts.some((t) => t.startsWith("proxy:")));
    expect(JSON.parse(got.texts.find((t) => t.startsWith("proxy:"))?.slice(6) ?? "{}").status).toBe(200);
    // The runner goes away: no socket answers.
    await first.close();
    worker.send({ type: "message", text: "call" });
    await waitFor("the failed call", () => got.texts.filter((t) => t.startsWith("proxy:")).length === 2);
    expect(JSON.parse(got.texts.filter((t) => t.startsWith("proxy:"))[1]?.slice(6) ?? "{}").status).toBeUndefined();
    // A new runner process registers the task again with the token the worker holds.
    const second = new ModelProxy({ upstreamURL, apiKey: MODEL_KEY, socketDir: join(root, "restart-proxy") });
    await second.start();
    try {
      await second.register(s.taskID, {}, () => {}, () => {}, { token: reg.token });
      worker.send({ type: "message", text: "call" });
      await waitFor("the call after the restart", () => got.texts.filter((t) => t.startsWith("proxy:")).length === 3);
      expect(JSON.parse(got.texts.filter((t) => t.startsWith("proxy:"))[2]?.slice(6) ?? "{}").status).toBe(200);
    } finally {
      await worker.stop(1000);
      await worker.remove();
      await second.close();
    }
  }, 30_000);

  it("recovers an exited worker: replays its output, then reports its exit", async () => {
    const s = await spec();
    const first = collector();
    const worker = await sandbox.start(s, first.sink);
    worker.send(startLine(s.taskID, "crash"));
    await waitFor("the exit", () => first.got.exit !== undefined);
    const { sink, got } = collector();
    const handles = await new DockerSandbox(options()).recover((taskID) => (taskID === s.taskID ? sink : undefined));
    expect(handles.map((h) => h.taskID)).toContain(s.taskID);
    await waitFor("the exit", () => got.exit !== undefined);
    expect(got.texts).toEqual(["about to crash"]);
    expect(got.stderr).toContain("boom");
    expect(got.exit).toEqual({ exitCode: 3, reason: "exited", message: "exited with code 3" });
    await worker.remove();
  }, 30_000);

  it("says plainly when the worker image is missing, and leaves no container", async () => {
    const s = await spec();
    const missing = new DockerSandbox({ ...options(), image: "tether-no-such-image:missing" });
    await expect(missing.start(s, collector().sink)).rejects.toThrow(/tether-no-such-image:missing is not on this Docker host: build it with `npm run image`/);
    const left = await docker.listContainers({ all: true, filters: { label: [`tether.task=${s.taskID}`] } });
    expect(left).toEqual([]);
  }, 30_000);

  it("removes this runner's containers whose task is not kept, and no one else's", async () => {
    const keep = await spec();
    const drop = await spec();
    const a = await sandbox.start(keep, collector().sink);
    const b = await sandbox.start(drop, collector().sink);
    const otherRunner = new DockerSandbox({ ...options(), runnerID: `${runnerID}-other` });
    const other = await otherRunner.start(await spec(), collector().sink);
    try {
      const removed = await sandbox.removeOrphans(new Set([keep.taskID]));
      expect(removed).toContain(b.id);
      expect(removed).not.toContain(a.id);
      expect(removed).not.toContain(other.id);
      await expect(docker.getContainer(b.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect((await docker.getContainer(a.id).inspect()).Id).toBe(a.id);
    } finally {
      await a.remove();
      await other.remove();
    }
  }, 30_000);
  it("runs the real worker image: clone, agent through the proxy to the stand-in model, commit and diff", async () => {
    // The image is built from this tree's agent when it is missing or stale, as the worker image suite does.
    const workerImage = await ensureWorkerImage();
    const model = await startFakeModel({ script: fixTheFailingTestScript(), listen: { port: 0 }, apiKey: MODEL_KEY });
    const realProxy = new ModelProxy({ upstreamURL: model.url ?? "", apiKey: MODEL_KEY, socketDir: join(root, "real-proxy") });
    await realProxy.start();
    try {
      const s = await spec({ memoryMB: 512, cpus: 1, pids: 128 });
      const src = join(root, "fixture");
      await createFixtureRepo(src, { git: true });
      const clone = await cloneRepo({ url: `file://${src}`, dir: s.workspaceDir, branch: "tether/fix" });
      if (!clone.ok) throw new Error(clone.error);
      const usage: number[] = [];
      const reg = await realProxy.register(s.taskID, { maxTurns: 20 }, (u) => usage.push(u.inputTokens + u.outputTokens), () => {});
      const events: { type: string; data: Record<string, unknown> }[] = [];
      const bad: string[] = [];
      let stderr = "";
      const sink: WorkerSink = {
        line: (parsed, raw) => (parsed.ok ? events.push(parsed.value as (typeof events)[number]) : bad.push(raw)),
        stderr: (text) => void (stderr += text),
        exit: () => {},
      };
      const realSandbox = new DockerSandbox({ image: workerImage, runnerID });
      const realSpec = { ...s, proxySocketPath: reg.socketPath };
      const worker = await realSandbox.start(realSpec, sink);
      expect(realSandbox.workerProxySocket(realSpec)).toBe("/run/tether/model.sock");
      worker.send(startLine(s.taskID, "The test fails. Fix it.", reg.token));
      await waitFor(() => `turn.end (stderr: ${stderr.slice(-500)}; events: ${events.map((e) => e.type).join(",")})`, () => events.some((e) => e.type === "turn.end"), 45_000);
      expect(bad).toEqual([]);
      // Six model calls went through the proxy, each with the runner's key, and each was counted.
      expect(model.requests).toHaveLength(6);
      expect(model.requests.every((r) => keyOf(r.headers) === MODEL_KEY)).toBe(true);
      expect(usage).toHaveLength(6);
      expect(realProxy.spent(s.taskID)?.turns).toBe(6);
      expect(events.find((e) => e.type === "file.changed")?.data).toEqual({ path: "math.js", change: "modified" });
      const info = await worker.stop(10_000);
      expect(info.reason).toBe("killed");
      expect(await commitAll(s.workspaceDir, "The test fails. Fix it.")).toBe(true);
      const diff = await makeDiff(s.workspaceDir, clone.value);
      expect(diff.stat.changedFiles).toEqual([{ path: "math.js", insertions: 1, deletions: 1 }]);
      expect(diff.patch).toContain("+  return a + b;");
      await worker.remove();
    } finally {
      await realProxy.close();
      await model.close();
    }
  }, 360_000);
});
