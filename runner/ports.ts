/**
 * The interfaces the runner core (daemon.ts, task/) owns and its adapters implement, so the
 * core depends on no adapter and unit tests pass hand-built fakes (runner/testing/fakes.ts):
 *
 *   Sandbox, WorkerHandle   sandbox/ (docker, process)   one worker per task
 *   ProxyPort               proxy/                       the model proxy's per-task socket
 *   EgressPort              egress/                      the egress proxy's per-task socket
 *   GitPort                 git/                         clone, commit, diff, push on the host
 *   ArtifactPort            link/artifacts.ts            diff.patch upload
 *   DataChannel             link/task-channel.ts         a task's data socket to the edge
 *   Outbox                  task/outbox.ts               what a data channel sends and acks
 *
 * Expected failures come back as a `Result`; bugs throw.
 */
import type { EventData } from "../shared/events.ts";
import type { Command, Parsed, RunnerEvent, RunnerToWorker, WorkerToRunner } from "../shared/protocol.ts";
import type { ChangedFile, DiffStat } from "../shared/task.ts";
import type { HostRule } from "./egress/host-rule.ts";
import type { GitCredentials } from "./git/index.ts";
import type { BudgetLimits } from "../shared/budget.ts";
import type { BudgetReport, Reached, Spent, TaskBudget } from "./proxy/index.ts";

export type { BudgetReport, GitCredentials, HostRule, Reached, Spent, TaskBudget };

/**
 * An expected failure as a value, the runner's one result shape (the shape of `Parsed` in
 * shared/protocol.ts too): `{ ok: true, value }` or `{ ok: false, error }`; a `Result<void>`
 * succeeds with `value: undefined`.
 */
export type Result<T = void, E = string> = { ok: true; value: T } | { ok: false; error: E };

// ── the sandbox ─────────────────────────────────────────────────────────────
//
// The core starts a worker with a `WorkerSink` that receives each stdout line already parsed
// with the shared `WorkerToRunner` schema (a bad line arrives as an error, never a throw),
// stderr text, and the exit. After a runner restart `recover` finds the workers this runner
// started (Docker: by label) and replays their output from the start; the core drops lines it
// has already seen by their `wseq`.

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
  /** The task's model proxy socket on the host; its directory holds nothing else. */
  proxySocketPath: string;
  resources: SandboxResources;
  /** The task's egress proxy socket on the host (alone in its directory) and the tools' environment (proxy variables, registries). */
  egress?: { socketPath: string; env: Record<string, string> };
  /** The task's environment variables (a saved environment's, non-secret); the runner's own variables win over them. */
  env?: Record<string, string>;
  /** Another image than the worker image, one `checkImage` passed; absent: the worker image. */
  image?: string;
}

/** What a setup sandbox gets: a worker's spec without the model proxy. */
export type SetupSpec = Omit<SandboxSpec, "proxySocketPath">;

/** A task's setup phase in its own short-lived sandbox, over the same workspace as its worker. */
export interface SetupSession {
  /** Runs `command` with `sh -c` in the workspace; output as it comes; the exit code, null when killed. */
  exec(command: string, onOutput: (stream: "stdout" | "stderr", text: string) => void): Promise<number | null>;
  /** Stops and removes the setup's sandbox; a running `exec` ends. */
  close(): Promise<void>;
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
  /**
   * Stops reading the worker's output (the runner's outbox is full): the worker's own writes
   * then block once the pipe's buffer is full. `resumeOutput` reads on.
   */
  pauseOutput(): void;
  resumeOutput(): void;
  /**
   * Freezes every process of the worker (Docker: `docker pause`, the cgroup freezer); nothing
   * in it runs until `thaw`. Stopping a frozen worker thaws it first.
   */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  /** Forgets the worker: removes the container (only after its result is acked by the edge). */
  remove(): Promise<void>;
}

export interface Sandbox {
  readonly kind: "docker" | "process";
  start(spec: SandboxSpec, sink: WorkerSink): Promise<WorkerHandle>;
  /** Opens a setup sandbox for `spec` (the worker's mounts, limits and egress; no model proxy). */
  openSetup(spec: SetupSpec): Promise<SetupSession>;
  /** What identifies the worker's image, or `image` (Docker: its ID), for the setup cache's key. */
  imageID(image?: string): Promise<string>;
  /**
   * Whether `image` (another than the worker image) can run the agent under the same
   * hardening; the error is the reason it cannot. Docker caches the answer per image ID.
   */
  checkImage(image: string): Promise<Result<void>>;
  /** The model proxy socket as the worker started from `spec` sees it (what the `start` line names). */
  workerProxySocket(spec: SandboxSpec): string;
  /**
   * Workers this runner started that still exist (running or exited, not removed). A worker
   * that came from the pool carries no task label: `pooled` names its task by container ID.
   */
  recover(sinkFor: (taskID: string) => WorkerSink | undefined, pooled?: ReadonlyMap<string, string>): Promise<WorkerHandle[]>;
  /** Removes this runner's workers whose task is not in `keep`, and every pooled one not in `pooled` (container ID → task). */
  removeOrphans(keep: ReadonlySet<string>, pooled?: ReadonlyMap<string, string>): Promise<string[]>;
  /** Starts a worker ahead of any task, for the pool (Docker only; absent: the sandbox has no pool). */
  prestart?(spec: WarmSpec): Promise<WarmWorker>;
}

/**
 * A pool slot's worker as it is made: a task's spec without the task. Its directories are the
 * slot's; the task's clone and sockets go into them when a task takes the slot.
 */
export interface WarmSpec extends Omit<SandboxSpec, "taskID" | "env"> {
  slotID: string;
}

/** A worker started ahead of its task, with the mounts and limits of any other, waiting for its `start` line. */
export interface WarmWorker {
  /** Container ID. */
  readonly id: string;
  /** The ID of the image it was made from. */
  readonly imageID: string;
  /** Resolves if the worker stops while it waits (it died or was removed). */
  readonly stopped: Promise<void>;
  /**
   * Gives the worker to a task whose files and sockets are in the slot's directories: its
   * output goes to `sink` from now on. `spec` (the task's, with no variables and the slot's
   * resources) is what the worker would have been started with.
   */
  assign(spec: SandboxSpec, sink: WorkerSink): Promise<WorkerHandle>;
  /** Removes the unused worker. */
  discard(): Promise<void>;
}

// ── the model proxy ─────────────────────────────────────────────────────────

export interface ProxyRegistration {
  token: string;
  /** The task's socket on the host, alone in its directory. */
  socketPath: string;
  /** The directory that holds the socket. */
  proxyDir: string;
}

/** What a restarted runner passes to keep a running worker's token and its spending. */
export interface ResumeBudget {
  token?: string;
  startedAt?: number;
  spent?: Spent;
}

export interface ProxyPort {
  register(
    taskID: string,
    budget: TaskBudget,
    onUsage: (u: EventData<"usage">) => void,
    onRefusal: (reached: Reached, report: BudgetReport) => void,
    resume?: ResumeBudget,
  ): Promise<ProxyRegistration>;
  unregister(taskID: string): Promise<void>;
  spent(taskID: string): Spent | undefined;
  /** Applies raised limits; the task's time counts from `startedAt`. False when the task is not registered. */
  raise(taskID: string, limits: BudgetLimits, startedAt: number): boolean;
  /** The task's limits, and per limit what is spent and what remains. */
  report(taskID: string): BudgetReport | undefined;
}

// ── the egress proxy ────────────────────────────────────────────────────────

export type EgressPhase = "setup" | "agent";

export interface EgressTotals {
  allowed: number;
  denied: number;
  /** Bytes both ways over the allowed attempts. */
  bytes: number;
}

export interface EgressRegistration {
  /** Where the task's socket goes on the host, alone in its directory. */
  socketPath: string;
  phase: EgressPhase;
  /** What the setup phase may reach. */
  setupRules: HostRule[];
  /** What the agent phase may reach (a saved environment's agent hosts); nothing when absent. */
  agentRules?: HostRule[];
  /** What the user allowed for the rest of the task, in every phase. */
  allowed: HostRule[];
  /** One call per attempt, when it ends. */
  onEvent(event: EventData<"egress">): void;
  /** In `ask` mode: asks the owner about an agent-phase attempt the user's rules do not cover; true lets it through. */
  ask?(host: string, port: number): Promise<boolean>;
}

export interface EgressPort {
  register(taskID: string, reg: EgressRegistration): Promise<void>;
  /** Moves the task to `phase`; the agent phase is final. */
  setPhase(taskID: string, phase: EgressPhase): void;
  /** Lets the task reach `rule` (host, *.domain or host:port) for the rest of its run. */
  allow(taskID: string, rule: string): Result<HostRule>;
  totals(taskID: string): EgressTotals | undefined;
  unregister(taskID: string): Promise<void>;
}

// ── git and artifacts ───────────────────────────────────────────────────────

export interface GitPort {
  /** Clones `url` at `ref` into `dir` on a new `branch`; the value is the commit the diff is made against. */
  clone(opts: { url: string; ref?: string; dir: string; branch: string; depth?: number; credentials: GitCredentials }): Promise<Result<string>>;
  commitAll(dir: string, message: string): Promise<boolean>;
  makeDiff(dir: string, baseRef: string): Promise<{ patch: string; stat: DiffStat & { changedFiles: ChangedFile[] } }>;
  push(dir: string, branch: string, credentials: GitCredentials): Promise<Result>;
  /** Paths in the workspace git does not track (ignored ones too), directories whole, without `.git`. */
  listUntracked(dir: string): Promise<string[]>;
}

export interface ArtifactPort {
  upload(taskID: string, epoch: number, name: string, body: string): Promise<Result>;
}

// ── a task's data to the edge ───────────────────────────────────────────────

/** One task's journaled outbox as its data channel reads it. */
export interface Outbox {
  /** The last user command the task applied: `attach` asks for the ones after it. */
  readonly lastCommandSeq: number;
  /** Events the edge has not acked after `afterRseq`, oldest first, at most `limit`. */
  unacked(afterRseq: number, limit: number): RunnerEvent[];
  /** The edge stored everything up to `rseq`: those events leave; says how many. */
  ack(rseq: number): number;
}

/** What a task's data channel reports to the task. */
export interface DataChannelHandlers {
  /** Commands from `attached` or `command`, in seq order; the owner drops ones it applied. */
  commands(commands: Command[]): void;
  /** Everything up to `rseq` is stored at the edge. */
  acked(rseq: number): void;
  /** The edge refuses this runner for the task (stale epoch, not leased, finished). */
  refused(code: string, message: string): void;
  /** The socket is closed for good (refused credential or lease); it will not reconnect. */
  fatal(reason: string): void;
}

/** A task's data socket: sends what its `Outbox` holds and reports back through its handlers. */
export interface DataChannel {
  start(): void;
  /** New events up to `rseq` are in the outbox. */
  notify(rseq: number): void;
  stop(): Promise<void>;
}
