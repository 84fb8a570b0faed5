/**
 * A task's wall-clock limit (internal to task/): `timeoutMinutes` counted from the task's
 * first worker launch (the `startedAt` its model access keeps, so a restarted runner counts
 * from the same moment, which moves on by the time the task sat paused at a reached budget).
 * When it passes, the run freezes the worker whatever it is doing (budget-pause.ts); the
 * model proxy's time budget only refuses the next model call.
 *
 * `minuteMs` is the length of a minute here: 60 000 in use, a few milliseconds in tests
 * (`TETHER_TASK_MINUTE_MS`), since a task's `timeoutMinutes` is a whole number of minutes.
 */
export class WallClock {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly minuteMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `expired` with the reason once `limitMinutes` have passed since `startedAt`; re-arming replaces the timer. */
  arm(startedAt: number, limitMinutes: number | undefined, expired: (reason: string) => void): void {
    this.clear();
    if (limitMinutes === undefined) return;
    const left = Math.max(0, startedAt + limitMinutes * this.minuteMs - this.now());
    this.timer = setTimeout(() => expired(`wall-clock limit of ${limitMinutes} min reached`), left);
    this.timer.unref();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
