/**
 * `tether-runner status`: what the runner in this home holds and its link state, read from
 * the journal (opened read-only) and the state file the daemon keeps.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RunnerConfig } from "../config.ts";
import type { RunnerState } from "../daemon.ts";
import type { LinkState } from "../link/index.ts";
import { Journal, type LocalStatus } from "../task/index.ts";

export interface StatusReport {
  home: string;
  registered: boolean;
  runnerID: string | null;
  edgeURL: string | null;
  daemon: "running" | "not running";
  pid: number | null;
  link: LinkState | "none";
  draining: boolean;
  tasks: { taskID: string; epoch: number; status: LocalStatus; containerID: string | null; pendingEvents: number }[];
  pendingEvents: number;
}

export function readStatus(config: RunnerConfig): StatusReport {
  const statePath = join(config.home, "state.json");
  let state: RunnerState | undefined;
  if (existsSync(statePath)) {
    try {
      state = JSON.parse(readFileSync(statePath, "utf8")) as RunnerState;
    } catch {
      state = undefined;
    }
  }
  const alive = state !== undefined && state.link !== "stopped" && processAlive(state.pid);
  const journalPath = join(config.home, "journal.db");
  const tasks: StatusReport["tasks"] = [];
  let pendingEvents = 0;
  if (existsSync(journalPath)) {
    const journal = new Journal(journalPath, undefined, { readonly: true });
    try {
      for (const row of journal.tasks()) {
        tasks.push({ taskID: row.taskID, epoch: row.epoch, status: row.status, containerID: row.containerID, pendingEvents: journal.pendingFor(row.taskID) });
      }
      pendingEvents = journal.pendingCount;
    } finally {
      journal.close();
    }
  }
  return {
    home: config.home,
    registered: Boolean(config.edgeURL && config.credential),
    runnerID: state?.runnerID ?? config.runnerID ?? null,
    edgeURL: config.edgeURL ?? null,
    daemon: alive ? "running" : "not running",
    pid: alive ? state!.pid : null,
    link: alive ? state!.link : "none",
    draining: alive ? state!.draining : false,
    tasks,
    pendingEvents,
  };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function formatStatus(s: StatusReport): string {
  const lines = [
    `home:     ${s.home}`,
    `runner:   ${s.registered ? `${s.runnerID ?? "(no ID)"} at ${s.edgeURL}` : "not registered (tether-runner register --edge URL --token TOKEN)"}`,
    `daemon:   ${s.daemon}${s.pid ? ` (pid ${s.pid})` : ""}`,
    `link:     ${s.link}${s.draining ? " (draining)" : ""}`,
    `tasks:    ${s.tasks.length}${s.pendingEvents ? `, ${s.pendingEvents} events not yet acked by the edge` : ""}`,
    ...s.tasks.map((t) => `  ${t.taskID}  epoch ${t.epoch}  ${t.status}${t.containerID ? `  container ${t.containerID.slice(0, 12)}` : ""}${t.pendingEvents ? `  ${t.pendingEvents} unacked` : ""}`),
  ];
  return lines.join("\n");
}
