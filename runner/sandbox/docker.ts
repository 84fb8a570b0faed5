/**
 * The `docker` sandbox: one hardened container per task, driven with dockerode.
 *
 * The container has no network (`NetworkMode: none` unless configured), runs as uid 1000 with
 * every capability dropped, `no-new-privileges`, memory (swap equal, so not doubled), CPU and
 * pids limits, a read-only root with a tmpfs /tmp, and docker-init as PID 1 so SIGTERM reaches
 * the worker. Only three host directories are mounted: the workspace (/workspace), the task's
 * state (/state) and the directory of the task's model proxy socket (/run/tether, read-only),
 * so the worker reaches the proxy at /run/tether/<socket> (`workerProxySocket`); with egress,
 * also the directory of its egress proxy socket (/run/tether-egress, read-only), which the
 * relay inside reaches for the tools (TETHER_EGRESS_SOCKET, the proxy variables in the spec).
 * A task whose environment names another image (one the runner allows) runs in that image
 * under the same hardening (hardening.ts), once `checkImage` has passed it (image-check.ts):
 * the worker image's agent is mounted read-only at /opt/tether/agent.mjs (agent-bundle.ts)
 * and run with that image's `node`.
 * A task's setup phase runs in a container made the same way (`openSetup`, docker-setup.ts),
 * labelled `tether.role=setup`; a restart removes such a container instead of recovering it.
 * Containers carry the labels `tether.runner` and `tether.task`, are never auto-removed, and
 * survive the runner: `OpenStdin` without `StdinOnce` keeps stdin open when the runner goes.
 *
 * Output: the attach stream is split with `modem.demuxStream`; stdout lines are parsed one by
 * one (worker-lines.ts), stderr is passed on as text. After a runner restart,
 * `recover` attaches with `logs: true`, which replays everything from the start and then
 * follows with no gap; the core drops lines it already has by their `wseq`.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { promisify } from "node:util";
import Docker from "dockerode";
import type { Logger } from "pino";
import { AGENT_PATH, agentBundleOf } from "./agent-bundle.ts";
import { DockerSetupSession } from "./docker-setup.ts";
import { type Hardening, hardenedHostConfig } from "./hardening.ts";
import { ImageCheck } from "./image-check.ts";
import { WorkerLineSplitter } from "./worker-lines.ts";
import type { ExitInfo, Result, Sandbox, SandboxSpec, SetupSession, SetupSpec, WorkerHandle, WorkerSink } from "../ports.ts";

const run = promisify(execFile);

export const LABEL_RUNNER = "tether.runner";
export const LABEL_TASK = "tether.task";
/** `setup` on a setup phase's container, `check` on an image check's, `agent-copy` on the one the agent is copied from; a worker's has none. */
export const LABEL_ROLE = "tether.role";
/** Where the container sees the directory of its model proxy socket. */
export const CONTAINER_PROXY_DIR = "/run/tether";
/** Where the container sees the directory of its egress proxy socket. */
export const CONTAINER_EGRESS_DIR = "/run/tether-egress";
/** How long output may trail the container's exit before the stream is closed anyway. */
const OUTPUT_DRAIN_MS = 2000;

export interface DockerSandboxOptions {
  docker?: Docker;
  image: string;
  runnerID: string;
  logger?: Logger;
  network?: "none" | "host";
  /** Replaces the image's command. */
  command?: string[];
  /** More binds, e.g. `/host/agent:/opt/agent:ro` to try a development build of the worker. */
  extraBinds?: string[];
  /** `uid:gid` the worker runs as (default 1000:1000); the workspace is chowned to it. */
  user?: string;
  /** Read-only root filesystem with a tmpfs /tmp (default true). */
  readonlyRootfs?: boolean;
  /** A host directory for the agent copied out of the worker image, which other images run; without it, no other image runs. */
  agentDir?: string;
}

export class DockerSandbox implements Sandbox {
  readonly kind = "docker" as const;
  private readonly docker: Docker;
  private readonly user: string;
  private readonly hardening: Hardening;
  private readonly imageCheck: ImageCheck;

  constructor(private readonly opts: DockerSandboxOptions) {
    this.docker = opts.docker ?? new Docker();
    this.user = opts.user ?? "1000:1000";
    if (!/^\d+:\d+$/.test(this.user)) throw new Error(`docker sandbox: user must be uid:gid, got ${this.user}`);
    this.hardening = { network: opts.network ?? "none", readonlyRootfs: opts.readonlyRootfs ?? true };
    this.imageCheck = new ImageCheck(this.docker, {
      hardening: this.hardening,
      user: this.user,
      labels: { [LABEL_RUNNER]: opts.runnerID, [LABEL_ROLE]: "check" },
      agentBundle: () => this.agentBundle(),
    });
  }

  async start(spec: SandboxSpec, sink: WorkerSink): Promise<WorkerHandle> {
    await this.prepareDirs(spec);
    const container = await this.create(this.containerOptions(spec, "worker", await this.agentFor(spec)));
    try {
      // Attach before start so not one byte of output is missed.
      const stream = await this.attach(container, false);
      const worker = new DockerWorker(container, spec.taskID, stream, sink, this.log(spec.taskID));
      await container.start();
      worker.watch();
      this.log(spec.taskID)?.info({ containerID: container.id }, "container started");
      return worker;
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      throw err;
    }
  }

  async openSetup(spec: SetupSpec): Promise<SetupSession> {
    await this.prepareDirs(spec);
    const container = await this.create(this.containerOptions(spec, "setup", await this.agentFor(spec)));
    return DockerSetupSession.open(container, this.user);
  }

  async imageID(image?: string): Promise<string> {
    const info = (await this.docker.getImage(image ?? this.opts.image).inspect()) as { Id: string };
    return info.Id;
  }

  async checkImage(image: string): Promise<Result<void>> {
    if (!this.opts.agentDir) return { ok: false, error: "this runner has no directory for the agent other images run (agentDir)" };
    return this.imageCheck.check(image);
  }

  /** The agent's bundle on the host, which a container of another image mounts. */
  private agentBundle(): Promise<string> {
    if (!this.opts.agentDir) throw new Error("docker sandbox: no agentDir for other images");
    return agentBundleOf(this.docker, this.opts.image, this.opts.agentDir, { [LABEL_RUNNER]: this.opts.runnerID, [LABEL_ROLE]: "agent-copy" });
  }

  /** For a spec naming another image: that image passes the check, and the agent's bundle it mounts. */
  private async agentFor(spec: SetupSpec): Promise<string | undefined> {
    if (!spec.image) return undefined;
    const checked = await this.checkImage(spec.image);
    if (!checked.ok) throw new Error(`the image ${spec.image} cannot run the agent: ${checked.error}`);
    return this.agentBundle();
  }

  /**
   * The worker's container, or the setup's (the same but for its program: the egress relay
   * alone). In another image (`agent`: the bundle's path on the host) the program is that
   * image's node running the mounted agent.
   */
  private containerOptions(spec: SetupSpec & { proxySocketPath?: string }, role: "worker" | "setup", agent: string | undefined): Docker.ContainerCreateOptions {
    const egressEnv = spec.egress ? [...Object.entries(spec.egress.env).map(([k, v]) => `${k}=${v}`), `TETHER_EGRESS_SOCKET=${CONTAINER_EGRESS_DIR}/${basename(spec.egress.socketPath)}`] : [];
    const worker = role === "worker";
    const command = worker ? this.opts.command : ["relay"];
    return {
      Image: agent && spec.image ? spec.image : this.opts.image,
      ...(agent ? { Entrypoint: ["node", AGENT_PATH], Cmd: command ?? [] } : command ? { Cmd: command } : {}),
      User: this.user,
      WorkingDir: "/workspace",
      // Docker keeps the last of a repeated name: the task's variables first, the runner's after.
      Env: [...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`), "TETHER_WORKSPACE=/workspace", "TETHER_STATE_DIR=/state", "HOME=/tmp", ...egressEnv],
      Labels: { [LABEL_RUNNER]: this.opts.runnerID, [LABEL_TASK]: spec.taskID, ...(worker ? {} : { [LABEL_ROLE]: "setup" }) },
      OpenStdin: worker,
      StdinOnce: false,
      AttachStdin: worker,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      HostConfig: hardenedHostConfig(this.hardening, spec.resources, [
        `${spec.workspaceDir}:/workspace:rw`,
        `${spec.stateDir}:/state:rw`,
        ...(spec.proxySocketPath ? [`${dirname(spec.proxySocketPath)}:${CONTAINER_PROXY_DIR}:ro`] : []),
        ...(spec.egress ? [`${dirname(spec.egress.socketPath)}:${CONTAINER_EGRESS_DIR}:ro`] : []),
        ...(agent ? [`${agent}:${AGENT_PATH}:ro`] : []),
        ...(this.opts.extraBinds ?? []),
      ]),
    };
  }

  workerProxySocket(spec: SandboxSpec): string {
    return `${CONTAINER_PROXY_DIR}/${basename(spec.proxySocketPath)}`;
  }

  async recover(sinkFor: (taskID: string) => WorkerSink | undefined): Promise<WorkerHandle[]> {
    const handles: WorkerHandle[] = [];
    for (const info of await this.listOwn()) {
      const taskID = info.Labels[LABEL_TASK];
      if (info.Labels[LABEL_ROLE] !== undefined) {
        // A setup cut short by a restart is run again from the start, a check or a copy made again: its container goes.
        await this.docker.getContainer(info.Id).remove({ force: true }).catch(ignoreGone);
        continue;
      }
      const sink = taskID === undefined ? undefined : sinkFor(taskID);
      if (taskID === undefined || sink === undefined) continue;
      const container = this.docker.getContainer(info.Id);
      const log = this.log(taskID);
      if (info.State === "exited" || info.State === "dead") {
        // Attaching to a stopped container replays its output but never ends: read the logs.
        const stream = (await container.logs({ follow: true, stdout: true, stderr: true })) as NodeJS.ReadableStream;
        handles.push(new DockerWorker(container, taskID, stream, sink, log).watch());
      } else {
        const stream = await this.attach(container, true);
        const worker = new DockerWorker(container, taskID, stream, sink, log);
        if (info.State === "created") await container.start();
        handles.push(worker.watch());
      }
      log?.info({ containerID: info.Id, state: info.State }, "container recovered");
    }
    return handles;
  }

  async removeOrphans(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const info of await this.listOwn()) {
      const taskID = info.Labels[LABEL_TASK];
      if (taskID !== undefined && keep.has(taskID)) continue;
      await this.docker.getContainer(info.Id).remove({ force: true }).catch(ignoreGone);
      this.opts.logger?.info({ containerID: info.Id, taskID }, "orphan container removed");
      removed.push(info.Id);
    }
    return removed;
  }

  private async create(options: Docker.ContainerCreateOptions): Promise<Docker.Container> {
    try {
      return await this.docker.createContainer(options);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) {
        throw new Error(`the worker image ${this.opts.image} is not on this Docker host: build it with \`npm run image\` or set TETHER_WORKER_IMAGE`);
      }
      throw err;
    }
  }

  private listOwn(): Promise<Docker.ContainerInfo[]> {
    return this.docker.listContainers({ all: true, filters: { label: [`${LABEL_RUNNER}=${this.opts.runnerID}`] } });
  }

  private async attach(container: Docker.Container, logs: boolean): Promise<NodeJS.ReadWriteStream> {
    return container.attach({ stream: true, stdin: true, stdout: true, stderr: true, logs, hijack: true });
  }

  /** The worker's uid must write the workspace and state; a runner that cannot chown opens them up. */
  private async prepareDirs(spec: SetupSpec & { proxySocketPath?: string }): Promise<void> {
    const sockets = [spec.proxySocketPath, spec.egress?.socketPath].flatMap((p) => (p ? [dirname(p)] : []));
    await Promise.all([spec.workspaceDir, spec.stateDir, ...sockets].map((d) => mkdir(d, { recursive: true })));
    for (const dir of [spec.workspaceDir, spec.stateDir]) {
      try {
        await run("chown", ["-R", this.user, dir]);
      } catch {
        await run("chmod", ["-R", "a+rwX", dir]);
      }
    }
  }

  private log(taskID: string): Logger | undefined {
    return this.opts.logger?.child({ taskID, sandbox: "docker" });
  }
}

class DockerWorker implements WorkerHandle {
  readonly id: string;
  private stopping = false;
  private readonly exited: Promise<ExitInfo>;
  private readonly drained: Promise<void>;
  private begin!: () => void;
  /** Set while the output is paused: resolves when it is read on. */
  private paused: { resumed: Promise<void>; resume: () => void } | undefined;

  constructor(
    private readonly container: Docker.Container,
    readonly taskID: string,
    private readonly stream: NodeJS.ReadableStream | NodeJS.ReadWriteStream,
    sink: WorkerSink,
    private readonly log: Logger | undefined,
  ) {
    this.id = container.id;
    const splitter = new WorkerLineSplitter(sink);
    const decoder = new StringDecoder("utf8");
    // Writables whose write runs synchronously, so every byte is handed on before "end".
    const stdout = new Writable({
      write: (chunk: Buffer, _e, done) => {
        splitter.push(chunk);
        done();
      },
    });
    const stderr = new Writable({
      write: (chunk: Buffer, _e, done) => {
        const text = decoder.write(chunk);
        if (text) sink.stderr(text);
        done();
      },
    });
    container.modem.demuxStream(stream, stdout, stderr);
    // A write to a container that just exited fails with EPIPE: logged, never thrown.
    stream.on("error", (err: Error) => this.log?.warn({ err: err.message }, "worker stream failed"));
    this.drained = new Promise<void>((resolve) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", resolve);
    });
    // Docker's wait answers at once, with code 0, for a container not yet started: the exit is
    // watched only once the container runs (or has run).
    const started = new Promise<void>((resolve) => (this.begin = resolve));
    this.exited = started.then(() => this.waitForExit()).then((info) => {
      splitter.end();
      const rest = decoder.end();
      if (rest) sink.stderr(rest);
      sink.exit(info);
      return info;
    });
  }

  /** Starts watching for the exit; call once the container has been started. */
  watch(): this {
    this.begin();
    return this;
  }

  send(message: Parameters<WorkerHandle["send"]>[0]): void {
    const stream = this.stream as NodeJS.ReadWriteStream & { destroyed?: boolean };
    if (stream.destroyed || !("write" in stream)) {
      this.log?.warn({ type: message.type }, "worker stdin is closed; message dropped");
      return;
    }
    stream.write(`${JSON.stringify(message)}\n`);
  }

  pauseOutput(): void {
    if (this.paused) return;
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    this.paused = { resumed, resume };
    this.stream.pause();
  }

  resumeOutput(): void {
    const paused = this.paused;
    this.paused = undefined;
    this.stream.resume();
    paused?.resume();
  }

  async freeze(): Promise<void> {
    await this.container.pause();
  }

  /** A container that is not paused (or gone) is left as it is: Docker answers an unpause of one with a 500. */
  async thaw(): Promise<void> {
    const info = (await this.container.inspect().catch(ignoreGone)) as Docker.ContainerInspectInfo | undefined;
    if (info?.State.Paused) await this.container.unpause().catch(ignoreGone);
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    this.stopping = true;
    await this.thaw();
    await this.container.stop({ t: Math.ceil(graceMs / 1000) }).catch(ignoreGone);
    return this.exited;
  }

  async remove(): Promise<void> {
    await this.container.remove({ force: true }).catch(ignoreGone);
  }

  private async waitForExit(): Promise<ExitInfo> {
    try {
      const result = (await this.container.wait()) as { StatusCode: number };
      // Paused output is still to come: the drain's clock starts once it is read on.
      while (this.paused) await this.paused.resumed;
      // The last output may still be on its way; a stream that never ends is closed anyway.
      const drained = await Promise.race([this.drained.then(() => true), delay(OUTPUT_DRAIN_MS).then(() => false)]);
      if (!drained) (this.stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      await new Promise((resolve) => setImmediate(resolve));
      const state = (await this.container.inspect()) as Docker.ContainerInspectInfo;
      return exitInfo(result.StatusCode, state, this.stopping);
    } catch (err) {
      this.log?.error({ err: (err as Error).message }, "container wait failed");
      return { exitCode: null, reason: "error", message: `the container could not be watched: ${(err as Error).message}` };
    }
  }
}

function exitInfo(code: number, state: Docker.ContainerInspectInfo, stopping: boolean): ExitInfo {
  if (state.State.OOMKilled) {
    const mb = Math.round((state.HostConfig.Memory ?? 0) / 1024 / 1024);
    return { exitCode: code, reason: "oom", message: `killed by the kernel: out of memory (limit ${mb} MB)` };
  }
  if (stopping) return { exitCode: code, reason: "killed", message: `stopped by the runner (exit code ${code})` };
  if (code === 137) return { exitCode: code, reason: "killed", message: "killed by SIGKILL (exit code 137)" };
  return { exitCode: code, reason: "exited", message: `exited with code ${code}` };
}

function ignoreGone(err: { statusCode?: number }): void {
  // 304: already stopped; 404: already gone.
  if (err.statusCode !== 304 && err.statusCode !== 404) throw err;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
