/**
 * Load faults: a burst of tasks at once on a runner of capacity 4 (all must end), and a soak,
 * a steady stream of tasks for minutes, with the runner's resident memory, open file
 * descriptors and containers before and after (none may leak). Each task is `[faults:quick]`:
 * one answer, then the phone finishes it.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Event } from "../../shared/events.ts";
import type { RunnerProcess } from "../../test/support/runner-process.ts";
import { countLog } from "./measure.ts";
import type { Figure } from "./report.ts";
import type { FaultStack } from "./stack.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = ["succeeded", "failed", "cancelled", "lost"];
/** Descriptors that may come and go with idle sockets (a reconnecting link, a pooled HTTP socket) without being a leak. */
const FD_SLACK = 4;

interface Tally {
  lost: number;
  duplicated: number;
  statuses: Record<string, number>;
}

/** Drives tasks until each ends or `deadline`: finishes those waiting. Returns the peak of the runner's running containers, one snapshot a sweep. */
async function driveToEnd(stack: FaultStack, runner: RunnerProcess, ids: string[], deadline: number): Promise<{ ended: Map<string, string>; peak: number }> {
  const ended = new Map<string, string>();
  const finished = new Set<string>();
  let peak = 0;
  while (ended.size < ids.length && Date.now() < deadline) {
    const running = await stack.docker.listContainers({ filters: { label: [`tether.runner=${runner.runnerID}`], status: ["running"] } });
    peak = Math.max(peak, running.length);
    for (const id of ids) {
      if (ended.has(id)) continue;
      const task = await stack.phone.task(id);
      if (TERMINAL.includes(task.status)) ended.set(id, task.status);
      if (task.status === "waiting" && !finished.has(id)) {
        finished.add(id);
        await stack.phone.finish(id);
      }
    }
    await sleep(500);
  }
  return { ended, peak };
}

async function tally(stack: FaultStack, ended: Map<string, string>, ids: string[]): Promise<Tally> {
  const t: Tally = { lost: 0, duplicated: 0, statuses: {} };
  for (const id of ids) {
    const status = ended.get(id) ?? "not ended";
    t.statuses[status] = (t.statuses[status] ?? 0) + 1;
    const events: Event[] = await stack.phone.events(id);
    const count = countLog(events, events, false);
    t.lost += count.lost;
    t.duplicated += count.duplicated;
  }
  return t;
}

const statusText = (s: Record<string, number>) => Object.entries(s).map(([k, v]) => `${v} ${k}`).join(", ");

export async function burst(stack: FaultStack, runner: RunnerProcess, label: string, n: number): Promise<Figure> {
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: `[faults:quick] burst ${i}`, labels: [label] })).id);
  const { ended, peak } = await driveToEnd(stack, runner, ids, Date.now() + 15 * 60_000);
  const all = performance.now() - t0;
  const t = await tally(stack, ended, ids);
  return {
    fault: `${n} tasks at once`,
    detail: `${n} tasks created back to back for one runner of capacity ${runner.options.capacity}; the phone finishes each when it waits`,
    lost: t.lost,
    duplicated: t.duplicated,
    notFinished: ids.length - ended.size,
    recovery: `all ended in ${(all / 1000).toFixed(0)} s`,
    ...(peak > (runner.options.capacity ?? 0) ? { shortfall: `the runner ran ${peak} containers at once` } : {}),
    notes: [`statuses: ${statusText(t.statuses)}`, `most running containers of the runner at once: ${peak} (capacity ${runner.options.capacity})`],
  };
}

interface Usage {
  rssMB: number;
  fds: number;
  containers: number;
}

async function usageOf(stack: FaultStack, runner: RunnerProcess): Promise<Usage> {
  const pid = runner.pid!;
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return { rssMB: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length, containers: (await taskContainersOf(stack, runner)).length };
}

/** The runner's containers but its pool's waiting workers (which belong to no task). */
async function taskContainersOf(stack: FaultStack, runner: RunnerProcess): Promise<unknown[]> {
  return (await stack.containersOf(runner)).filter((c) => !c.Names.some((n) => n.startsWith("/tether-slot-")));
}

/** Waits (bounded) until the runner holds no container, then a few idle seconds. */
async function settle(stack: FaultStack, runner: RunnerProcess): Promise<void> {
  for (let i = 0; i < 120 && (await taskContainersOf(stack, runner)).length > 0; i++) await sleep(500);
  await sleep(5000);
}

export async function soak(stack: FaultStack, runner: RunnerProcess, label: string, seconds: number, inFlight: number): Promise<Figure> {
  await settle(stack, runner);
  const before = await usageOf(stack, runner);
  const stop = Date.now() + seconds * 1000;
  const ids: string[] = [];
  const ended = new Map<string, string>();
  const rss: number[] = [];
  const sampler = setInterval(() => void usageOf(stack, runner).then((u) => rss.push(u.rssMB), () => undefined), 30_000);
  const lane = async (lane: number) => {
    for (let i = 0; Date.now() < stop && i < 10_000; i++) {
      const id = (await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: `[faults:quick] soak ${lane}.${i}`, labels: [label] })).id;
      ids.push(id);
      const one = await driveToEnd(stack, runner, [id], Date.now() + 5 * 60_000);
      for (const [k, v] of one.ended) ended.set(k, v);
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, (_, i) => lane(i)));
  } finally {
    clearInterval(sampler);
  }
  await settle(stack, runner);
  const after = await usageOf(stack, runner);
  const t = await tally(stack, ended, ids);
  const mb = (v: number) => `${v.toFixed(1)} MB`;
  return {
    fault: "soak",
    detail: `${seconds / 60} minutes of tasks, ${inFlight} in flight at a time, on the capacity-4 runner: ${ids.length} tasks`,
    lost: t.lost,
    duplicated: t.duplicated,
    notFinished: ids.length - ended.size,
    recovery: "n/a",
    ...(after.containers > before.containers || after.fds > before.fds + FD_SLACK ? { shortfall: "containers or file descriptors left over" } : {}),
    notes: [
      `statuses: ${statusText(t.statuses)}`,
      `runner RSS ${mb(before.rssMB)} before, ${mb(after.rssMB)} after (every 30 s during: ${rss.map((v) => v.toFixed(0)).join(", ")} MB)`,
      `open file descriptors ${before.fds} before, ${after.fds} after`,
      `containers with the runner's label ${before.containers} before, ${after.containers} after (aim: equal)`,
      `throughput: ${(ids.length / (seconds / 60)).toFixed(1)} tasks a minute`,
    ],
  };
}
