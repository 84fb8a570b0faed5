/**
 * The `process` sandbox: the worker program as a plain child process of the runner, for hosts
 * with no Docker engine. It ISOLATES NOTHING: the agent runs arbitrary commands as the
 * runner's own user, with the runner's files and network in reach. Chosen only explicitly;
 * it says so loudly when constructed.
 *
 * What it does keep: the child gets a minimal environment (PATH, HOME, locale) plus
 * TETHER_WORKSPACE / TETHER_STATE_DIR, never the runner's own (the model key, git token and
 * runner credential stay out of it), and the worker's cwd is the workspace. The worker reaches
 * the model proxy at the socket's own path on the host (`workerProxySocket`). The child leads
 * its own process group, so a stop reaches every command the agent started. Children die with the runner: `recover` finds nothing.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { RunnerToWorker } from "../../shared/protocol.ts";
import type { ExitInfo, Result, Sandbox, SandboxSpec, SetupSession, SetupSpec, WorkerHandle, WorkerSink } from "../ports.ts";
import { WorkerLineSplitter } from "./worker-lines.ts";

export const DEFAULT_AGENT_PATH = fileURLToPath(new URL("../../worker-image/dist/agent.mjs", import.meta.url));
/** How long output may trail the worker's exit. */
const OUTPUT_DRAIN_MS = 2000;
const PASSED_ENV = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

export interface ProcessSandboxOptions {
  runnerID: string;
  logger?: Logger;
  /** The bundled worker (default worker-image/dist/agent.mjs), run with this Node. */
  agentPath?: string;
  /** Replaces `node agentPath` entirely. */
  command?: string[];
}

export class ProcessSandbox implements Sandbox {
  readonly kind = "process" as const;
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly opts: ProcessSandboxOptions) {
    opts.logger?.warn(
      { sandbox: "process" },
      "PROCESS SANDBOX: workers run as plain child processes of the runner and isolate NOTHING (same user, files and network as the runner); use it only where no Docker engine can run",
    );
    // Workers die with the runner; a group kill takes the agent's commands along.
    process.once("exit", () => {
      for (const child of this.children) killGroup(child, "SIGKILL");
    });
  }

  /** Setup steps as host shells in the workspace, with the worker's minimal environment and no egress proxy. */
  async openSetup(spec: SetupSpec): Promise<SetupSession> {
    await mkdir(spec.workspaceDir, { recursive: true });
    const running = new Set<ChildProcess>();
    return {
      exec: (command, onOutput) =>
        new Promise((resolve) => {
          const env: NodeJS.ProcessEnv = { ...spec.env };
          for (const name of PASSED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
          const child = spawn("sh", ["-c", command], { cwd: spec.workspaceDir, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
          running.add(child);
          this.children.add(child);
          for (const stream of ["stdout", "stderr"] as const) {
            const decoder = new StringDecoder("utf8");
            child[stream].on("data", (chunk: Buffer) => onOutput(stream, decoder.write(chunk)));
          }
          child.once("error", () => resolve(null));
          child.once("close", (code) => {
            running.delete(child);
            this.children.delete(child);
            resolve(code);
          });
        }),
      close: async () => {
        for (const child of running) killGroup(child, "SIGKILL");
      },
    };
  }

  async imageID(): Promise<string> {
    return "process";
  }

  /** A process runs on the host: there is no image to run it in. */
  async checkImage(image: string): Promise<Result<void>> {
    return { ok: false, error: `this runner runs tasks as processes on its host (sandbox: process), so it cannot run them in the image ${image}` };
  }

  async start(spec: SandboxSpec, sink: WorkerSink): Promise<WorkerHandle> {
    await Promise.all([spec.workspaceDir, spec.stateDir].map((d) => mkdir(d, { recursive: true })));
    const [file, ...args] = this.opts.command ?? [process.execPath, this.opts.agentPath ?? DEFAULT_AGENT_PATH];
    const env: NodeJS.ProcessEnv = { ...spec.env, TETHER_WORKSPACE: spec.workspaceDir, TETHER_STATE_DIR: spec.stateDir };
    for (const name of PASSED_ENV) if (process.env[name] !== undefined) env[name] = process.env[name];
    const child = spawn(file ?? process.execPath, args, { cwd: spec.workspaceDir, env, stdio: ["pipe", "pipe", "pipe"], detached: true });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    const log = this.opts.logger?.child({ taskID: spec.taskID, sandbox: "process" });
    log?.info({ pid: child.pid }, "worker process started");
    return new ProcessWorker(child, spec, sink, log);
  }

  workerProxySocket(spec: SandboxSpec): string {
    return spec.proxySocketPath;
  }

  async recover(): Promise<WorkerHandle[]> {
    return [];
  }

  async removeOrphans(): Promise<string[]> {
    return [];
  }
}

class ProcessWorker implements WorkerHandle {
  readonly id: string;
  readonly taskID: string;
  private stopping = false;
  private readonly exited: Promise<ExitInfo>;

  constructor(
    private readonly child: ChildProcess,
    spec: SandboxSpec,
    sink: WorkerSink,
    private readonly log: Logger | undefined,
  ) {
    this.id = String(child.pid);
    this.taskID = spec.taskID;
    const splitter = new WorkerLineSplitter(sink);
    const decoder = new StringDecoder("utf8");
    child.stdout?.on("data", (chunk: Buffer) => splitter.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = decoder.write(chunk);
      if (text) sink.stderr(text);
    });
    // A worker that exits while a line is being written must not crash the runner (EPIPE).
    child.stdin?.on("error", (err) => this.log?.warn({ err: err.message }, "worker stdin failed"));
    this.exited = new Promise<ExitInfo>((resolve) => {
      // "close" comes after stdout and stderr have ended, so every line is handed on first;
      // a grandchild that kept the worker's stdout open must not hold the exit back for ever.
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        splitter.end();
        const rest = decoder.end();
        if (rest) sink.stderr(rest);
        const info = exitInfo(code, signal, this.stopping);
        sink.exit(info);
        resolve(info);
      };
      child.once("close", finish);
      child.once("exit", (code, signal) => setTimeout(() => finish(code, signal), OUTPUT_DRAIN_MS).unref());
    });
  }

  send(message: RunnerToWorker): void {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) {
      this.log?.warn({ type: message.type }, "worker stdin is closed; message dropped");
      return;
    }
    stdin.write(`${JSON.stringify(message)}\n`);
  }

  pauseOutput(): void {
    this.child.stdout?.pause();
    this.child.stderr?.pause();
  }

  resumeOutput(): void {
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  async freeze(): Promise<void> {
    killGroup(this.child, "SIGSTOP");
  }

  async thaw(): Promise<void> {
    killGroup(this.child, "SIGCONT");
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.exited;
    killGroup(this.child, "SIGCONT");
    this.stopping = true;
    killGroup(this.child, "SIGTERM");
    const timer = setTimeout(() => killGroup(this.child, "SIGKILL"), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    // The agent's own commands go too, even when the worker left them behind.
    killGroup(this.child, "SIGKILL");
    return info;
  }

  async remove(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) await this.stop(0);
  }
}

function exitInfo(code: number | null, signal: NodeJS.Signals | null, stopping: boolean): ExitInfo {
  if (signal !== null) {
    const message = stopping ? `stopped by the runner (${signal})` : `killed by ${signal}`;
    return { exitCode: null, reason: "killed", message };
  }
  if (stopping) return { exitCode: code, reason: "killed", message: `stopped by the runner (exit code ${code})` };
  return { exitCode: code, reason: "exited", message: `exited with code ${code}` };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group is already gone.
  }
}
