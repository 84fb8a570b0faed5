/**
 * Internal, for tests: hand-built fakes of the sandbox, the model proxy and git, so the
 * daemon and task runs are tested without Docker, a model or a repository.
 */
import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import type { EventData } from "../../shared/events.ts";
import { parseFrame, type RunnerToWorker, WorkerToRunner } from "../../shared/protocol.ts";
import type { ChangedFile } from "../../shared/task.ts";
import { type BudgetLimits, budgetLimitsOf } from "../../shared/budget.ts";
import type {
  BudgetReport,
  ExitInfo,
  GitCredentials,
  GitPort,
  ProxyPort,
  ProxyRegistration,
  Reached,
  Result,
  ResumeBudget,
  Sandbox,
  SandboxSpec,
  SetupSession,
  SetupSpec,
  Spent,
  TaskBudget,
  WorkerHandle,
  WorkerSink,
} from "../ports.ts";

export class FakeWorker implements WorkerHandle {
  readonly received: RunnerToWorker[] = [];
  /** Every line written so far, replayed to a sink on recover. */
  readonly lines: string[] = [];
  exitInfo: ExitInfo | undefined;
  removed = false;
  stopGrace: number | undefined;
  /** The runner has stopped reading this worker's output. */
  paused = false;
  /** The runner has frozen the worker's processes. */
  frozen = false;
  private wseq = 0;

  constructor(
    readonly taskID: string,
    readonly id: string,
    public sink: WorkerSink,
    readonly spec: SandboxSpec,
  ) {}

  send(message: RunnerToWorker): void {
    this.received.push(message);
  }

  /** The worker writes an agent event line with the next wseq. */
  emit(type: string, data: unknown): void {
    this.wseq += 1;
    this.raw(JSON.stringify({ wseq: this.wseq, type, data }));
  }

  raw(line: string): void {
    this.lines.push(line);
    this.sink.line(parseFrame(WorkerToRunner, line, 128 * 1024), line);
  }

  exit(info: ExitInfo): void {
    this.exitInfo = info;
    this.sink.exit(info);
  }

  pauseOutput(): void {
    this.paused = true;
  }

  resumeOutput(): void {
    this.paused = false;
  }

  async freeze(): Promise<void> {
    this.frozen = true;
  }

  async thaw(): Promise<void> {
    this.frozen = false;
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    this.frozen = false;
    this.stopGrace = graceMs;
    if (!this.exitInfo) this.exit({ exitCode: 143, reason: "killed", message: "stopped by the runner" });
    return this.exitInfo!;
  }

  async remove(): Promise<void> {
    this.removed = true;
  }
}

export class FakeSandbox implements Sandbox {
  readonly kind = "docker" as const;
  readonly workers: FakeWorker[] = [];
  /** Workers that outlive a runner: `recover` hands them to the next one. */
  surviving: FakeWorker[] = [];
  orphansRemoved: string[] = [];
  failStart: string | undefined;
  /** Each setup command run, and the exit code a command gets (0 unless listed). */
  readonly setupCommands: string[] = [];
  setupExitCodes = new Map<string, number>();
  /** Each setup sandbox's spec. */
  readonly setupSpecs: SetupSpec[] = [];

  async openSetup(spec: SetupSpec): Promise<SetupSession> {
    this.setupSpecs.push(spec);
    return {
      exec: async (command, onOutput) => {
        this.setupCommands.push(command);
        onOutput("stdout", `ran ${command}\n`);
        return this.setupExitCodes.get(command) ?? 0;
      },
      close: async () => {},
    };
  }

  /** What `checkImage` answers per image (ok unless listed), and each image checked. */
  imageRefusals = new Map<string, string>();
  readonly imagesChecked: string[] = [];

  async imageID(image?: string): Promise<string> {
    return image ? `sha256:fake-${image}` : "sha256:fake";
  }

  async checkImage(image: string): Promise<Result<void>> {
    this.imagesChecked.push(image);
    const refusal = this.imageRefusals.get(image);
    return refusal === undefined ? { ok: true, value: undefined } : { ok: false, error: refusal };
  }

  async start(spec: SandboxSpec, sink: WorkerSink): Promise<WorkerHandle> {
    if (this.failStart) throw new Error(this.failStart);
    const worker = new FakeWorker(spec.taskID, `c${this.workers.length + 1}`, sink, spec);
    this.workers.push(worker);
    return worker;
  }

  /** As in a container: the socket's directory is mounted at /run/tether. */
  workerProxySocket(spec: SandboxSpec): string {
    return `/run/tether/${basename(spec.proxySocketPath)}`;
  }

  async recover(sinkFor: (taskID: string) => WorkerSink | undefined): Promise<WorkerHandle[]> {
    const found: WorkerHandle[] = [];
    for (const w of this.surviving.filter((w) => !w.removed)) {
      const sink = sinkFor(w.taskID);
      if (!sink) continue;
      w.sink = sink;
      // Like Docker's attach with logs: the whole output again, then the exit if there was one.
      queueMicrotask(() => {
        for (const line of w.lines) sink.line(parseFrame(WorkerToRunner, line, 128 * 1024), line);
        if (w.exitInfo) sink.exit(w.exitInfo);
      });
      found.push(w);
    }
    return found;
  }

  async removeOrphans(keep: ReadonlySet<string>): Promise<string[]> {
    const orphans = this.surviving.filter((w) => !keep.has(w.taskID) && !w.removed);
    for (const w of orphans) w.removed = true;
    this.orphansRemoved.push(...orphans.map((w) => w.taskID));
    return orphans.map((w) => w.id);
  }

  worker(taskID: string): FakeWorker | undefined {
    return this.workers.filter((w) => w.taskID === taskID).at(-1);
  }
}

export class FakeProxy implements ProxyPort {
  readonly registered = new Map<
    string,
    { budget: TaskBudget; resume: ResumeBudget; onUsage: (u: EventData<"usage">) => void; onRefusal: (reached: Reached, report: BudgetReport) => void }
  >();
  /** Each raise applied: the task, its limits and the start its time counts from. */
  readonly raises: { taskID: string; limits: BudgetLimits; startedAt: number }[] = [];
  readonly unregistered: string[] = [];

  constructor(private readonly dir: string) {}

  async register(taskID: string, budget: TaskBudget, onUsage: (u: EventData<"usage">) => void, onRefusal: (reached: Reached, report: BudgetReport) => void, resume: ResumeBudget = {}): Promise<ProxyRegistration> {
    this.registered.set(taskID, { budget, resume, onUsage, onRefusal });
    const proxyDir = join(this.dir, taskID);
    await mkdir(proxyDir, { recursive: true });
    return { token: resume.token ?? `tok-${taskID}`, socketPath: join(proxyDir, "model.sock"), proxyDir };
  }

  async unregister(taskID: string): Promise<void> {
    this.unregistered.push(taskID);
  }

  spent(): Spent | undefined {
    return { tokens: 0, costUSD: 0, turns: 0 };
  }

  raise(taskID: string, limits: BudgetLimits, startedAt: number): boolean {
    const entry = this.registered.get(taskID);
    if (!entry) return false;
    entry.budget = { ...entry.budget, ...limits };
    this.raises.push({ taskID, limits, startedAt });
    return true;
  }

  report(taskID: string): BudgetReport | undefined {
    const entry = this.registered.get(taskID);
    if (!entry) return undefined;
    return { limits: budgetLimitsOf(entry.budget), spent: {}, remaining: {} };
  }
}

export class FakeGit implements GitPort {
  cloneError: string | undefined;
  readonly calls: string[] = [];
  changedFiles: ChangedFile[] = [{ path: "a.txt", insertions: 2, deletions: 1 }];

  async clone(opts: { url: string; dir: string; branch: string; credentials: GitCredentials }): Promise<Result<string>> {
    this.calls.push(`clone ${opts.url} ${opts.branch}`);
    if (this.cloneError) return { ok: false, error: this.cloneError };
    await mkdir(opts.dir, { recursive: true });
    return { ok: true, value: "base123" };
  }

  async commitAll(_dir: string, message: string): Promise<boolean> {
    this.calls.push(`commit ${message.split("\n")[0]}`);
    return true;
  }

  async makeDiff(_dir: string, baseRef: string) {
    this.calls.push(`diff ${baseRef}`);
    const insertions = this.changedFiles.reduce((n, f) => n + f.insertions, 0);
    const deletions = this.changedFiles.reduce((n, f) => n + f.deletions, 0);
    return { patch: "--- a/a.txt\n+++ b/a.txt\n", stat: { files: this.changedFiles.length, insertions, deletions, changedFiles: this.changedFiles } };
  }

  async push(_dir: string, branch: string): Promise<Result> {
    this.calls.push(`push ${branch}`);
    return { ok: true, value: undefined };
  }

  async listUntracked(): Promise<string[]> {
    return [];
  }
}
