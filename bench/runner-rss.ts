/**
 * The runner's resident memory: the real `tether-runner start` process running the bundle
 * (`npm run build:runner`'s code, built first; the journal, dockerode, the model proxy)
 * connected to the real edge, idle, then holding five
 * running tasks (each a worker container running a command that prints a line every 250 ms).
 * Read from /proc/PID/status (VmRSS), sampled ten times over 5 s; the containers' own memory
 * is not the runner's and is not counted.
 *
 *   npx tsx bench/runner-rss.ts
 */
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { bundleRunner } from "../runner/build.ts";
import { isTerminal, type TaskStatus } from "../shared/task.ts";
import { E2EStack } from "../test/support/e2e-stack.ts";
import { ViewerSocket } from "../test/support/viewer-socket.ts";

const TASKS = 5;
/** Aims of issue 16: idle ≤ 60 MB, ≤ 80 MB with five running tasks. */
export const IDLE_AIM_MB = 60;
export const BUSY_AIM_MB = 80;

export interface RunnerRSSResult {
  /** Idle, 30 s after it came online: what a daemon that waits for tasks holds. */
  idleMB: number;
  /** Idle, 5 s after it came online: start-up's garbage not yet collected. */
  startMB: number;
  busyMB: number;
  busyPeakMB: number;
}

function rssMB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb / 1024;
}

async function sample(pid: number): Promise<number[]> {
  const values: number[] = [];
  for (let i = 0; i < 10; i++) {
    values.push(rssMB(pid));
    await new Promise((r) => setTimeout(r, 500));
  }
  return values;
}

export async function benchRunnerRSS(): Promise<RunnerRSSResult> {
  const stack = new E2EStack();
  const viewers: ViewerSocket[] = [];
  try {
    await bundleRunner();
    await stack.start();
    const runner = await stack.addRunner({ name: "rss", capacity: TASKS });
    // The bin says so when it falls back to the sources: then this would measure tsx.
    if (runner.log().includes("running the TypeScript sources")) throw new Error(`the runner did not run the bundle:\n${runner.log()}`);
    const pid = runner.pid!;
    await new Promise((r) => setTimeout(r, 5000));
    const start = await sample(pid);
    await new Promise((r) => setTimeout(r, 20_000));
    const idle = await sample(pid);
    const ids: string[] = [];
    for (let i = 0; i < TASKS; i++) {
      const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: `[e2e:cancel] rss ${i}` });
      ids.push(task.id);
      viewers.push(await ViewerSocket.open(stack.edge.url, task.id, stack.token));
    }
    for (const v of viewers) await v.waitFor("tick 3", (e) => e.type === "tool.output" && String(e.data.text).includes("tick 3\n"), 120_000);
    const busy = await sample(pid);
    if (viewers.some((v) => v.events.some((e) => e.type === "status" && isTerminal(e.data.status as TaskStatus)))) {
      throw new Error("a task ended before the busy sample was taken");
    }
    for (const id of ids) await stack.phone.cancel(id);
    for (const v of viewers) await v.waitForStatus("cancelled", 60_000);
    return { idleMB: median(idle), startMB: median(start), busyMB: median(busy), busyPeakMB: Math.max(...busy) };
  } finally {
    for (const v of viewers) await v.close();
    await stack.dispose();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const mark = (ok: boolean) => (ok ? "✓" : "✗");

export function runnerRSSMarkdown(r: RunnerRSSResult): string {
  return [
    "## Runner memory",
    "",
    `Resident set of the \`tether-runner start\` process (one Node process running the bundle dist/runner: the journal, dockerode, the model proxy, the edge link), median of 10 samples over 5 s. Idle: 30 s after the runner came online, beside the same 5 s after (V8's memory reducer frees start-up's garbage about 8 s after the process starts, so the first figure is start-up's, the second what a runner waiting for tasks holds). Busy: ${TASKS} tasks running at once, each a worker container running a command that prints a line every 250 ms. The containers' memory is not counted.`,
    "",
    "| runner | aim | RSS |",
    "|---|---:|---:|",
    `| idle, connected to the edge (30 s after it came online) | ≤ ${IDLE_AIM_MB} MB | ${r.idleMB.toFixed(1)} MB ${mark(r.idleMB <= IDLE_AIM_MB)} |`,
    `| idle, 5 s after it came online | | ${r.startMB.toFixed(1)} MB |`,
    `| ${TASKS} running tasks | ≤ ${BUSY_AIM_MB} MB | ${r.busyMB.toFixed(1)} MB (peak ${r.busyPeakMB.toFixed(1)} MB) ${mark(r.busyMB <= BUSY_AIM_MB)} |`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(runnerRSSMarkdown(await benchRunnerRSS()));
}
