/**
 * A task paused at a reached budget (internal to task/), the one rule for all four limits:
 *
 * - The model proxy refuses the call that would pass the model-call, token or dollar limit
 *   (the worker then waits for `budget.raised` and makes the same call again); the wall clock
 *   passing `timeoutMinutes` freezes the container (`WorkerHandle.freeze`: nothing in it runs).
 *   Either way the task goes to `waiting` with one `budget.reached` event (which limit, what is
 *   spent, what remains) and its pause is journaled.
 * - A raise (the edge's `limits` command, the limits as they now stand) goes to the proxy and
 *   the wall clock; a paused task is thawed, goes back to the phase it paused in, and the worker
 *   is told `budget.raised`. The minutes the task sat paused do not count as its time: its
 *   start moves on by them.
 * - A pause nobody raises within `pauseMs` ends the task as failed with the limit's reason.
 */
import type { Logger } from "pino";
import { type BudgetLimit, type BudgetLimits, type BudgetReachedData, budgetLimitsOf } from "../../shared/budget.ts";
import type { RunnerEventBody } from "../../shared/events.ts";
import type { BudgetReport, ProxyPort, Reached } from "../ports.ts";
import type { TaskRecord } from "./task-record.ts";
import type { TaskWorker } from "./task-worker.ts";

/** How long a task waits at a reached budget for a raise, unless the runner says otherwise. */
export const DEFAULT_BUDGET_PAUSE_MS = 24 * 60 * 60_000;

/** What the pause works on: the run's record, worker and proxy, and its phase. */
export interface PauseHost {
  record: TaskRecord;
  worker: TaskWorker;
  proxy: ProxyPort;
  log: Logger;
  emit(bodies: RunnerEventBody[]): void;
  /** The task's phase, as far as a pause cares. */
  phase(): "running" | "waiting" | "other";
  setPhase(phase: "running" | "waiting"): void;
  /** Arms the wall clock again (after a raise or a thaw). */
  rearmLimits(): void;
  /** The pause ran out: the task ends as failed with `reason`. */
  expire(reason: string): void;
}

/** The task's limits as they stand: its own, with any raise applied. */
export function limitsOf(record: TaskRecord): BudgetLimits {
  return budgetLimitsOf({ ...record.task.limits, ...record.meta.limits });
}

export class BudgetPause {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: PauseHost,
    private readonly pauseMs: number = DEFAULT_BUDGET_PAUSE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** The task waits at a reached budget. */
  get active(): boolean {
    return this.host.record.meta.budgetPause !== undefined;
  }

  /** A limit is reached (the proxy refused a call, or the wall clock passed): pause, freezing the worker when `freeze`. */
  async reach(reached: Reached, report: BudgetReport | undefined, freeze: boolean): Promise<void> {
    const { record, worker } = this.host;
    const phase = this.host.phase();
    if (phase === "other") return;
    const paused = record.meta.budgetPause;
    if (paused) {
      if (freeze && !paused.frozen) {
        await worker.freeze();
        record.updateMeta({ budgetPause: { ...paused, frozen: true } });
      }
      return;
    }
    if (freeze) await worker.freeze();
    record.updateMeta({ budgetPause: { limit: reached.limit, reason: reached.reason, pausedAt: this.now(), frozen: freeze, resumeTo: phase } });
    this.host.log.info({ limit: reached.limit, frozen: freeze }, "budget reached: the task waits for a raise");
    const data = reachedData(reached, report, limitsOf(record));
    this.host.emit([
      { type: "budget.reached", data },
      { type: "status", data: { status: "waiting", reason: `${reached.reason}: raise the limit to go on` } },
    ]);
    this.host.setPhase("waiting");
    this.arm();
  }

  /** The edge's limits as they now stand: applied, and a paused task goes on. */
  async raise(limits: BudgetLimits): Promise<void> {
    const { record, worker, proxy } = this.host;
    if (this.host.phase() === "other") return;
    const paused = record.meta.budgetPause;
    const pausedMs = paused ? Math.max(0, this.now() - paused.pausedAt) : 0;
    const kept = record.meta.proxy;
    const startedAt = (kept?.startedAt ?? this.now()) + pausedMs;
    record.updateMeta({ limits: { ...record.meta.limits, ...limits }, ...(kept ? { proxy: { ...kept, startedAt } } : {}) });
    proxy.raise(record.taskID, limits, startedAt);
    this.clearTimer();
    if (paused) {
      record.updateMeta({ budgetPause: undefined });
      if (paused.frozen) await worker.thaw();
      this.host.log.info({ limit: paused.limit, pausedMs }, "budget raised: the task goes on");
      if (paused.resumeTo === "running") this.host.emit([{ type: "status", data: { status: "running" } }]);
      this.host.setPhase(paused.resumeTo);
    }
    this.host.rearmLimits();
    if (worker.running) worker.send({ type: "budget.raised" });
  }

  /** After a runner restart: a journaled pause runs out at the same moment as before. */
  restore(): void {
    if (this.active) this.arm();
  }

  clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.clearTimer();
    const paused = this.host.record.meta.budgetPause;
    if (!paused) return;
    const left = Math.max(0, paused.pausedAt + this.pauseMs - this.now());
    this.timer = setTimeout(() => this.host.expire(`${paused.reason}; the limit was not raised within ${formatWait(this.pauseMs)}`), left);
    this.timer.unref();
  }
}

/** The `budget.reached` data: the proxy's report, with the reached limit shown as spent. */
function reachedData(reached: Reached, report: BudgetReport | undefined, limits: BudgetLimits): BudgetReachedData {
  const spent = { ...report?.spent };
  const remaining = { ...report?.remaining };
  const limit: BudgetLimit = reached.limit;
  const value = limits[limit];
  if (value !== undefined && limit === "timeoutMinutes") {
    spent[limit] = value;
    remaining[limit] = 0;
  }
  return { limit, reason: reached.reason.slice(0, 2000), limits, spent, remaining };
}

function formatWait(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes % 60 === 0 && minutes > 0 ? `${minutes / 60} h` : minutes > 0 ? `${minutes} min` : `${ms} ms`;
}
