/**
 * Faults between a running task and the edge, each during one `[faults:lines]` task on the
 * main runner: `kill -9` of the runner and a restart on the same home, a restart of the edge,
 * the runner ↔ edge link cut every 2 s, and the edge unreachable for minutes. Time to recover
 * is from the moment the fault is lifted (runner started again, edge answering, link open
 * again; for cuts, the cut itself) until the phone's viewer receives the next event.
 */
import Docker from "dockerode";
import type { RunnerProcess } from "../../test/support/runner-process.ts";
import { recoveriesText, recoveryText } from "./measure.ts";
import type { Figure } from "./report.ts";
import type { FaultStack, LinesTask, TaskEnd } from "./stack.ts";
import { taskContainers } from "../../test/support/task-containers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function figureOf(fault: string, detail: string, end: TaskEnd, recoveries: number[], notes: string[] = []): Figure {
  const notFinished = end.status === "succeeded" ? 0 : 1;
  return {
    fault,
    detail,
    lost: end.count.lost,
    duplicated: end.count.duplicated,
    notFinished,
    recovery: recoveryText(recoveries),
    notes: [`${end.count.lines} lines, ended ${end.status}${end.reason ? ` (${end.reason})` : ""}`, ...(recoveries.length > 1 ? [`each recovery: ${recoveriesText(recoveries)}`] : []), ...notes, ...end.count.notes],
  };
}

/** The worker container's own output so far (its JSON lines), read from the engine. */
async function containerLog(id: string): Promise<string> {
  const docker = new Docker();
  const [worker] = await taskContainers(docker, id);
  return worker ? ((await docker.getContainer(worker.Id).logs({ stdout: true })) as Buffer).toString("latin1") : "";
}

/** Waits until the task's container has printed `line n` (the runner may be down). */
async function containerPrinted(id: string, n: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await containerLog(id)).includes(`line ${n}\\n`)) return;
    await sleep(100);
  }
  throw new Error(`the container of ${id} never printed line ${n}`);
}

function lastLine(task: LinesTask): number {
  const numbers = task.viewer.events.flatMap((e) => (e.type === "tool.output" ? [...String(e.data.text).matchAll(/line (\d+)\n/g)].map((m) => Number(m[1])) : []));
  return Math.max(0, ...numbers);
}

export async function killRunner(stack: FaultStack, runner: RunnerProcess, label: string, kills: number): Promise<Figure> {
  const task = await stack.startLines(runner, label, "kill");
  const recoveries: number[] = [];
  for (let k = 0; k < kills; k++) {
    await runner.kill9();
    // The container goes on printing while no runner listens.
    await containerPrinted(task.id, lastLine(task) + 3);
    const seq = task.viewer.lastSeq;
    const t0 = performance.now();
    await runner.start(stack.token);
    const ms = await stack.nextEvent(task.viewer, seq, t0, 60_000);
    if (ms !== null) recoveries.push(ms);
  }
  const end = await stack.endLines(task);
  return figureOf("runner `kill -9`", `${kills} kills during one task, each restarted on the same home`, end, recoveries, [`${kills - recoveries.length} kills not recovered within 60 s`]);
}

export async function restartEdge(stack: FaultStack, runner: RunnerProcess, label: string, restarts: number): Promise<Figure> {
  const task = await stack.startLines(runner, label, "edge");
  const recoveries: number[] = [];
  for (let k = 0; k < restarts; k++) {
    const seq = task.viewer.lastSeq;
    await stack.edge.stop();
    await sleep(1000);
    await stack.edge.start();
    const t0 = performance.now();
    const ms = await stack.nextEvent(task.viewer, Math.max(seq, task.viewer.lastSeq), t0, 90_000);
    if (ms !== null) recoveries.push(ms);
  }
  const end = await stack.endLines(task);
  return figureOf("edge restarted", `${restarts} restarts of wrangler dev during one task`, end, recoveries, [`viewer reconnected ${task.viewer.reconnects} times`]);
}

export async function cutLink(stack: FaultStack, runner: RunnerProcess, label: string, seconds: number): Promise<Figure> {
  const task = await stack.startLines(runner, label, "cut");
  const cuts: { at: number; seq: number }[] = [];
  const stop = performance.now() + seconds * 1000;
  while (performance.now() < stop) {
    const t0 = performance.now();
    cuts.push({ at: performance.timeOrigin + t0, seq: task.viewer.lastSeq });
    stack.relay.cut();
    await sleep(Math.max(0, t0 + 2000 - performance.now()));
  }
  await stack.nextEvent(task.viewer, task.viewer.lastSeq, performance.now(), 90_000);
  // Each cut's recovery: to the first event after it reached the phone, later cuts included.
  const recoveries = cuts.flatMap((c) => {
    const times = [...task.viewer.receivedWallAt].filter(([seq]) => seq > c.seq).map(([, at]) => at);
    return times.length > 0 ? [Math.min(...times) - c.at] : [];
  });
  const within = recoveries.filter((ms) => ms <= 2000).length;
  const end = await stack.endLines(task);
  return figureOf("link cut", `runner ↔ edge connections dropped every 2 s for ${seconds} s (${cuts.length} cuts); recovery is from a cut to the next event at the phone, later cuts included`, end, recoveries, [
    `${within} of ${cuts.length} cuts recovered before the next cut`,
  ]);
}

export async function edgeUnreachable(stack: FaultStack, runner: RunnerProcess, label: string, seconds: number): Promise<Figure> {
  const task = await stack.startLines(runner, label, "unreachable");
  const before = lastLine(task);
  await stack.relay.refuse();
  const t1 = performance.now();
  await sleep(seconds * 1000);
  await containerPrinted(task.id, before + 10);
  const printed = Math.max(0, ...[...(await containerLog(task.id)).matchAll(/line (\d+)\\n/g)].map((m) => Number(m[1])));
  const seq = task.viewer.lastSeq;
  await stack.relay.accept();
  const t0 = performance.now();
  const ms = await stack.nextEvent(task.viewer, seq, t0, 120_000);
  const down = ((t0 - t1) / 1000).toFixed(0);
  const end = await stack.endLines(task);
  // A task that ended without its `end N` line is counted against what its container printed.
  const unsent = end.count.notes.includes("no `end N` line") ? Math.max(0, printed - end.count.lines) : 0;
  end.count.lost += unsent;
  return figureOf("edge unreachable", `connections refused for ${down} s while the task prints`, end, ms === null ? [] : [ms], [
    `the viewer held line ${before} when the link went down; the container had printed ${printed} lines when it came back`,
    ...(unsent > 0 ? [`${unsent} lines the container printed never reached the phone`] : []),
  ]);
}
