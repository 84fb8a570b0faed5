/**
 * Faults from the runner's host: the worker container killed from outside (`docker kill`),
 * which must end the task `failed` with a reason, never leave it `running`; and the disk under
 * the runner's home (its journal) full, which must stop the runner taking tasks, say why in
 * its log, and lose nothing it had acknowledged once there is room again.
 */
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { RunnerProcess } from "../../test/support/runner-process.ts";
import { ViewerSocket } from "../../test/support/viewer-socket.ts";
import { countLog, recoveryText } from "./measure.ts";
import type { Figure } from "./report.ts";
import type { FaultStack } from "./stack.ts";
import { taskContainers } from "../../test/support/task-containers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = ["succeeded", "failed", "cancelled", "lost"];

export async function killContainer(stack: FaultStack, runner: RunnerProcess, label: string): Promise<Figure> {
  const task = await stack.startLines(runner, label, "docker-kill");
  const [worker] = await taskContainers(stack.docker, task.id);
  if (!worker) throw new Error(`no worker container for ${task.id}`);
  const t0 = performance.now();
  await stack.docker.getContainer(worker.Id).kill();
  let status = "running";
  let reason: string | null = null;
  let recovery: number[] = [];
  try {
    const end = await task.viewer.waitForStatus(TERMINAL, 120_000);
    recovery = [performance.now() - t0];
    status = String(end.data.status);
    reason = (end.data.reason as string | undefined) ?? null;
  } catch {
    status = (await stack.phone.task(task.id)).status;
  }
  const stored = await stack.phone.events(task.id);
  const count = countLog(task.viewer.events.filter((e) => e.seq <= (stored.at(-1)?.seq ?? 0)), stored);
  const ok = status === "failed" && reason !== null && reason.length > 0;
  return {
    fault: "worker container `docker kill`ed",
    detail: "SIGKILL to the task's container from outside while its command prints",
    lost: count.lost,
    duplicated: count.duplicated,
    notFinished: ok ? 0 : 1,
    recovery: recoveryText(recovery),
    notes: [`ended ${status}${reason ? `: "${reason}"` : " with no reason"} (aim: failed with a reason)`, `${count.lines} lines before the kill`, ...count.notes.filter((n) => n !== "no `end N` line")],
  };
}

/** Writes zeros into `path` until the file system says ENOSPC; bounded by `maxMB`. */
function fill(path: string, maxMB: number): number {
  const fd = openSync(path, "w");
  let written = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < (maxMB << 20) / size; i++) {
        try {
          written += writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function fillJournalDisk(stack: FaultStack, label: string, tmpfsMB: number, watchSeconds: number): Promise<Figure> {
  // The fault is the journal's disk: task disks (ext4 images, sparse, on the same tmpfs) would
  // meet the full disk as write errors and be remounted read-only by the kernel, so they are off.
  const runner = await stack.addRunner(label, 2, tmpfsMB, { TETHER_DISK_MB: "0" });
  const task = await stack.startLines(runner, label, "disk");
  const filler = join(runner.home, "filler");
  const seqAtFull = task.viewer.lastSeq;
  const bytes = fill(filler, tmpfsMB + 1);
  const t0 = performance.now();
  const second = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "[faults:quick] disk second", labels: [label] });
  const secondViewer = await ViewerSocket.open(stack.edge.url, second.id, stack.token);
  stack.viewers.push(secondViewer);
  await sleep(watchSeconds * 1000);
  const runnerAlive = alive(runner.pid);
  const secondStatus = (await stack.phone.task(second.id)).status;
  const eventsWhileFull = task.viewer.lastSeq - seqAtFull;
  const said = runner
    .records()
    .filter((r) => Number(r.level) >= 40 && /ENOSPC|SQLITE_FULL|disk|full|space/i.test(JSON.stringify(r)))
    .map((r) => `${String(r.msg)}${r.err ? `: ${String((r.err as { message?: string }).message ?? "").slice(0, 160)}` : ""}`);
  const lastWords = runnerAlive
    ? []
    : runner
        .records()
        .slice(-3)
        .map((r) => `${String(r.msg)}${r.err ? `: ${String((r.err as { message?: string }).message ?? "").slice(0, 160)}` : ""}`);
  if (!runnerAlive) console.error(`the runner exited while its disk was full; its last output:\n${runner.log().slice(-3000)}`);
  rmSync(filler, { force: true });
  const freed = performance.now();
  if (!runnerAlive) await runner.start(stack.token);
  const seq = task.viewer.lastSeq;
  const recovery = await stack.nextEvent(task.viewer, seq, freed, 90_000);
  const end = await stack.endLines(task);
  let secondEnd = "not ended";
  try {
    const waiting = await secondViewer.waitForStatus(["waiting", ...TERMINAL], 120_000);
    if (waiting.data.status === "waiting") await stack.phone.finish(second.id);
    secondEnd = String((await secondViewer.waitForStatus(TERMINAL, 60_000)).data.status);
  } catch {
    secondEnd = `still ${(await stack.phone.task(second.id)).status}`;
  }
  const notFinished = (end.status === "succeeded" ? 0 : 1) + (TERMINAL.includes(secondEnd) ? 0 : 1);
  return {
    fault: "journal disk full",
    detail: `the runner's home on a ${tmpfsMB} MB tmpfs (task disks off: TETHER_DISK_MB=0), filled (${(bytes / 2 ** 20).toFixed(1)} MB of filler) mid-task for ${watchSeconds} s, then freed`,
    lost: end.count.lost,
    duplicated: end.count.duplicated,
    notFinished,
    recovery: recovery === null ? "none within 90 s" : recoveryText([recovery]),
    ...(runnerAlive ? {} : { shortfall: "the runner process exits (uncaught SQLITE_FULL); nothing is lost after a restart" }),
    notes: [
      `runner process while full: ${runnerAlive ? "alive" : `exited (restarted on the same home after freeing); its last log records: ${lastWords.map((w) => `"${w}"`).join("; ")}`}`,
      `a task created while full: ${secondStatus} after ${watchSeconds} s (aim: not taken, i.e. queued), ended ${secondEnd}`,
      `events reaching the phone while full: ${eventsWhileFull}`,
      `the runner's warnings and errors about it: ${said.length > 0 ? said.slice(0, 4).map((s) => `"${s}"`).join("; ") : "none"}`,
      `the lines task: ${end.count.lines} lines, ended ${end.status}${end.reason ? ` (${end.reason})` : ""}`,
      `time from full to freed: ${((freed - t0) / 1000).toFixed(0)} s`,
      ...end.count.notes,
    ],
  };
}
