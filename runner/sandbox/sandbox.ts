/**
 * The sandbox a worker runs in, behind one small interface: `docker` (the default, one
 * hardened container per task) and `process` (a child process, isolates nothing).
 *
 * The runner core starts a worker with a `WorkerSink` that receives each stdout line already
 * parsed with the shared `WorkerToRunner` schema (a bad line arrives as an error, never a
 * throw), stderr text, and the exit. After a runner restart `recover` finds the workers this
 * runner started (Docker: by label) and replays their output from the start; the core drops
 * lines it has already seen by their `wseq`.
 */
import type { Parsed, RunnerToWorker, WorkerToRunner } from "../../shared/protocol.ts";

export interface SandboxResources {
  memoryMB: number;
  cpus: number;
  pids: number;
}

export interface SandboxSpec {
  taskID: string;
  /** Host directory with the cloned repo; the worker sees it as /workspace. */
  workspaceDir: string;
  /** Host directory for the saved conversation; the worker sees it as /state. */
  stateDir: string;
  /** Host directory holding the model proxy's unix socket; the worker sees it as /run/tether. */
  proxyDir: string;
  resources: SandboxResources;
}

export type ExitReason = "exited" | "oom" | "killed" | "error";

export interface ExitInfo {
  exitCode: number | null;
  reason: ExitReason;
  /** Human-readable detail, e.g. "killed by the kernel: out of memory (limit 256 MB)". */
  message: string;
}

export interface WorkerSink {
  line(parsed: Parsed<WorkerToRunner>, raw: string): void;
  stderr(text: string): void;
  exit(info: ExitInfo): void;
}

export interface WorkerHandle {
  readonly taskID: string;
  /** Container ID or process ID. */
  readonly id: string;
  /** Writes one JSON line to the worker's stdin. */
  send(message: RunnerToWorker): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the worker is really gone. */
  stop(graceMs: number): Promise<ExitInfo>;
  /** Forgets the worker: removes the container (only after its result is acked by the edge). */
  remove(): Promise<void>;
}

export interface Sandbox {
  readonly kind: "docker" | "process";
  start(spec: SandboxSpec, sink: WorkerSink): Promise<WorkerHandle>;
  /** Workers this runner started that still exist (running or exited, not removed). */
  recover(sinkFor: (taskID: string) => WorkerSink | undefined): Promise<WorkerHandle[]>;
  /** Removes this runner's workers whose task is not in `keep`. */
  removeOrphans(keep: ReadonlySet<string>): Promise<string[]>;
}
