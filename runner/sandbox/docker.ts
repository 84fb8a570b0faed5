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
 * A task's setup phase runs in a container made the same way (`openSetup`, docker-setup.ts),
 * labelled `tether.role=setup`; a restart removes such a container instead of recovering it.
 * Containers carry the labels `tether.runner` and `tether.task`, are never auto-removed, and
 * survive the runner: `OpenStdin` without `StdinOnce` keeps stdin open when the runner goes.
 * A task whose environment names another image (one the runner allows) runs in that image
 * under the same hardening (hardening.ts), once `checkImage` has passed it (image-check.ts):
 * the worker image's agent is mounted read-only at /opt/tether/agent.mjs (agent-bundle.ts)
 * and run with that image's `node`; such a task never takes a pooled worker.
 * `prestart` makes a worker for the pool with the same options but for its labels
 * (`tether.role=pool`, `tether.slot`; no task yet) and name (docker-warm.ts); `recover` and
 * `removeOrphans` learn the task of such a container from the journal's container IDs.
 *
 * Output: the attach stream is split with `modem.demuxStream`; stdout lines are parsed one by
 * one (worker-lines.ts), stderr is passed on as text. After a runner restart,
 * `recover` attaches with `logs: true`, which replays everything from the start and then
 * follows with no gap; the core drops lines it already has by their `wseq`.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import type { Logger } from "pino";
import { AGENT_PATH, agentBundleOf } from "./agent-bundle.ts";
import { DockerSetupSession } from "./docker-setup.ts";
import { DockerWarmWorker, poolContainerName } from "./docker-warm.ts";
import { DockerWorker, ignoreGone } from "./docker-worker.ts";
import { type Hardening, hardenedHostConfig } from "./hardening.ts";
import { ImageCheck } from "./image-check.ts";
import type { Result, Sandbox, SandboxSpec, SetupSession, SetupSpec, WarmSpec, WarmWorker, WorkerHandle, WorkerSink } from "../ports.ts";

const run = promisify(execFile);

export const LABEL_RUNNER = "tether.runner";
export const LABEL_TASK = "tether.task";
/**
 * `setup` on a setup phase's container, `check` on an image check's, `agent-copy` on the one
 * the agent is copied from, `pool` on a worker started ahead for the pool; a worker started
 * for its task has none.
 */
export const LABEL_ROLE = "tether.role";
/** A pooled worker's slot. */
export const LABEL_SLOT = "tether.slot";

/** Where the container sees the directory of its model proxy socket. */
export const CONTAINER_PROXY_DIR = "/run/tether";
/** Where the container sees the directory of its egress proxy socket. */
export const CONTAINER_EGRESS_DIR = "/run/tether-egress";

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
    const container = await this.create(this.containerOptions(spec, { role: "worker", taskID: spec.taskID }, await this.agentFor(spec)));
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
    const container = await this.create(this.containerOptions(spec, { role: "setup", taskID: spec.taskID }, await this.agentFor(spec)));
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
   * Starts a worker for the pool: made exactly as `start` makes a task's (the same options
   * but for its labels and name), attached and started; it waits for its `start` line.
   */
  async prestart(spec: WarmSpec): Promise<WarmWorker> {
    await this.prepareDirs(spec);
    const container = await this.create(this.containerOptions(spec, { role: "pool", slotID: spec.slotID }, undefined));
    try {
      const stream = await this.attach(container, false);
      // Nothing is read until a task takes the worker: what it prints meanwhile waits in the stream.
      stream.pause();
      await container.start();
      const info = (await container.inspect()) as Docker.ContainerInspectInfo;
      return new DockerWarmWorker(container, info.Image, stream, spec, {
        prepare: (s) => this.prepareDirs(s),
        log: (taskID) => this.log(taskID),
        sameResources: (s) => JSON.stringify(s.resources) === JSON.stringify(spec.resources),
      });
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      throw err;
    }
  }

  /**
   * A task's worker, the setup's (the same but for its program: the egress relay alone), or a
   * pooled worker's (the same as a task's but for its labels and name). In another image
   * (`agent`: the bundle's path on the host) the program is that image's node running the
   * mounted agent.
   */
  private containerOptions(
    spec: Omit<SetupSpec, "taskID"> & { proxySocketPath?: string },
    who: { role: "worker" | "setup" | "pool"; taskID?: string; slotID?: string },
    agent: string | undefined,
  ): Docker.ContainerCreateOptions {
    const egressEnv = spec.egress ? [...Object.entries(spec.egress.env).map(([k, v]) => `${k}=${v}`), `TETHER_EGRESS_SOCKET=${CONTAINER_EGRESS_DIR}/${basename(spec.egress.socketPath)}`] : [];
    const worker = who.role !== "setup";
    const command = worker ? this.opts.command : ["relay"];
    const labels: Record<string, string> =
      who.role === "pool"
        ? { [LABEL_RUNNER]: this.opts.runnerID, [LABEL_ROLE]: "pool", [LABEL_SLOT]: who.slotID ?? "" }
        : { [LABEL_RUNNER]: this.opts.runnerID, [LABEL_TASK]: who.taskID ?? "", ...(worker ? {} : { [LABEL_ROLE]: "setup" }) };
    return {
      ...(who.role === "pool" && who.slotID ? { name: poolContainerName(who.slotID) } : {}),
      Image: agent && spec.image ? spec.image : this.opts.image,
      ...(agent ? { Entrypoint: ["node", AGENT_PATH], Cmd: command ?? [] } : command ? { Cmd: command } : {}),
      User: this.user,
      WorkingDir: "/workspace",
      // Docker keeps the last of a repeated name: the task's variables first, the runner's after.
      Env: [...Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`), "TETHER_WORKSPACE=/workspace", "TETHER_STATE_DIR=/state", "HOME=/tmp", ...egressEnv],
      Labels: labels,
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

  async recover(sinkFor: (taskID: string) => WorkerSink | undefined, pooled: ReadonlyMap<string, string> = new Map()): Promise<WorkerHandle[]> {
    const handles: WorkerHandle[] = [];
    for (const info of await this.listOwn()) {
      const taskID = info.Labels[LABEL_ROLE] === "pool" ? pooled.get(info.Id) : info.Labels[LABEL_TASK];
      const role = info.Labels[LABEL_ROLE];
      if (role !== undefined && role !== "pool") {
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

  async removeOrphans(keep: ReadonlySet<string>, pooled: ReadonlyMap<string, string> = new Map()): Promise<string[]> {
    const removed: string[] = [];
    for (const info of await this.listOwn()) {
      // A pooled worker no journaled task took (it waited, or its task had not started it) goes too.
      const taskID = info.Labels[LABEL_ROLE] === "pool" ? pooled.get(info.Id) : info.Labels[LABEL_TASK];
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
  private async prepareDirs(spec: Omit<SetupSpec, "taskID"> & { proxySocketPath?: string }): Promise<void> {
    const sockets = [spec.proxySocketPath, spec.egress?.socketPath].flatMap((p) => (p ? [dirname(p)] : []));
    await Promise.all([spec.workspaceDir, spec.stateDir, ...sockets].map((d) => mkdir(d, { recursive: true })));
    await Promise.all(
      [spec.workspaceDir, spec.stateDir].map(async (dir) => {
        try {
          await run("chown", ["-R", this.user, dir]);
        } catch {
          await run("chmod", ["-R", "a+rwX", dir]);
        }
      }),
    );
  }

  private log(taskID: string): Logger | undefined {
    return this.opts.logger?.child({ taskID, sandbox: "docker" });
  }
}
