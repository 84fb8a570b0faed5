/**
 * Test harness (internal to the worker's tests): runs the bundled agent as a plain Node
 * process on temp directories, talks to it in its line protocol, and collects its events.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, mkdtemp, realpath } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { WorkerToRunner, type RunnerToWorker } from "../shared/protocol.ts";

export interface TaskDirs {
  base: string;
  workspace: string;
  stateDir: string;
  proxyDir: string;
}

export async function makeTaskDirs(): Promise<TaskDirs> {
  const base = await realpath(await mkdtemp(join(tmpdir(), "tether-worker-")));
  const dirs = { base, workspace: join(base, "workspace"), stateDir: join(base, "state"), proxyDir: join(base, "proxy") };
  await Promise.all([mkdir(dirs.workspace), mkdir(dirs.stateDir), mkdir(dirs.proxyDir)]);
  return dirs;
}

export interface AgentProcess {
  child: ChildProcessWithoutNullStreams;
  events: WorkerToRunner[];
  /** Lines that did not parse as WorkerToRunner (there should be none). */
  badLines: string[];
  stderr: () => string;
  send(line: RunnerToWorker | string): void;
  /** Resolves with the first event (already seen or still to come) that matches. */
  waitFor(match: (e: WorkerToRunner) => boolean, timeoutMs?: number): Promise<WorkerToRunner>;
  exit: Promise<number | null>;
}

/** Starts `node bundle` with the workspace and state dir in its env, or any command line given. */
export function startAgent(command: string[], env: Record<string, string>): AgentProcess {
  const [program, ...args] = command;
  const child = spawn(program!, args, { env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  const events: WorkerToRunner[] = [];
  const badLines: string[] = [];
  let stderr = "";
  const waiters: { match: (e: WorkerToRunner) => boolean; resolve: (e: WorkerToRunner) => void }[] = [];
  child.stderr.setEncoding("utf8").on("data", (t: string) => (stderr += t));
  createInterface({ input: child.stdout }).on("line", (line) => {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      badLines.push(line);
      return;
    }
    const parsed = WorkerToRunner.safeParse(json);
    if (!parsed.success) {
      badLines.push(line);
      return;
    }
    events.push(parsed.data);
    for (const w of [...waiters]) {
      if (w.match(parsed.data)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed.data);
      }
    }
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    events,
    badLines,
    stderr: () => stderr,
    send: (line) => child.stdin.write(`${typeof line === "string" ? line : JSON.stringify(line)}\n`),
    waitFor: (match, timeoutMs = 30_000) => {
      const seen = events.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; got ${events.map((e) => e.type).join(", ")}; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ match, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
    exit,
  };
}

export function startLine(options: { taskID?: string; prompt?: string; socketPath: string; token?: string; resume?: boolean; lastWseq?: number; maxTurns?: number }): RunnerToWorker {
  return {
    type: "start",
    task: {
      taskID: options.taskID ?? "task-1",
      prompt: options.prompt ?? "The test fails. Fix it.",
      limits: options.maxTurns ? { maxTurns: options.maxTurns } : {},
      repo: { url: "https://example.com/fixture.git" },
    },
    proxy: { socketPath: options.socketPath, token: options.token ?? "task-token-1" },
    resume: options.resume ?? false,
    lastWseq: options.lastWseq ?? 0,
  };
}

/** The event types in order, with runs of deltas and output chunks folded into one. */
export function typeSequence(events: WorkerToRunner[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    if ((e.type === "agent.text.delta" || e.type === "tool.output") && out.at(-1) === e.type) continue;
    out.push(e.type);
  }
  return out;
}
