/**
 * A task's timers (internal to task/): the idle timer of a task waiting for a follow-up, its
 * wall-clock limit (wall-clock.ts) and the watch on its bounded disk (task-disk.ts); the
 * bound of a budget pause is budget-pause.ts's. Each
 * calls back once with the reason; arming one replaces it, clearing stops it. The run decides
 * when to arm them and what their callbacks do.
 */
import { DiskWatch } from "./task-disk.ts";
import { WallClock } from "./wall-clock.ts";

export interface TaskTimerDeps {
  /** A task waiting this long for a follow-up finishes as succeeded. */
  idleMs: number;
  /** The length of a minute in a task's `timeoutMinutes` (60 000; less in tests). */
  minuteMs?: number;
  /** The size of the task's disk; 0 or absent: no bound, no watch. */
  diskMB?: number;
  /** How long a task paused at a reached budget waits for a raise before it fails (default 24 h). */
  budgetPauseMs?: number;
}

export class TaskTimers {
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly wallClock: WallClock;
  private readonly diskWatch = new DiskWatch();

  constructor(
    private readonly taskDir: string,
    private readonly deps: TaskTimerDeps,
  ) {
    this.wallClock = new WallClock(deps.minuteMs ?? 60_000);
  }

  /** Calls `idle` with the reason once the task has waited `idleMs`. */
  armIdle(idle: (reason: string) => void): void {
    this.clearIdle();
    const minutes = Math.round(this.deps.idleMs / 60_000);
    this.idleTimer = setTimeout(() => idle(`no follow-up within ${minutes} minutes of the last turn`), this.deps.idleMs);
    this.idleTimer.unref();
  }

  clearIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /**
   * Calls `outOfTime` with the reason once `timeoutMinutes` have passed since `startedAt` (when
   * the worker has started), and `diskFull` once the task's disk is full (when it is bounded).
   */
  armLimits(startedAt: number | undefined, timeoutMinutes: number | undefined, outOfTime: (reason: string) => void, diskFull: (reason: string) => void): void {
    if (startedAt !== undefined) this.wallClock.arm(startedAt, timeoutMinutes, outOfTime);
    if (this.deps.diskMB) this.diskWatch.arm(this.taskDir, this.deps.diskMB, diskFull);
  }

  clearLimits(): void {
    this.wallClock.clear();
    this.diskWatch.clear();
  }

  clear(): void {
    this.clearIdle();
    this.clearLimits();
  }
}
