/**
 * The worker's side of a reached budget (internal to the worker): a model call the runner's
 * proxy refuses (400 marked `x-tether-budget-exceeded`) is not a failure. The call waits for
 * the runner's `budget.raised` line and is made again with the conversation as it stood, so
 * the agent goes on from where it stopped. A raise that arrives while the call is still on its
 * way counts: the call is made again at once. A cancel ends the wait.
 */
import Anthropic from "@anthropic-ai/sdk";

/** Raises one refused call may wait for before it is given up: each needs the owner's word. */
const MAX_WAITS = 1000;

/** True for the proxy's refusal at a reached budget. */
export function isBudgetRefusal(err: unknown): boolean {
  return err instanceof Anthropic.APIError && err.status === 400 && err.headers?.get("x-tether-budget-exceeded") === "true";
}

export class BudgetGate {
  private raises = 0;
  private wake: (() => void) | undefined;

  /** The runner's `budget.raised` line. */
  raised(): void {
    this.raises += 1;
    this.wake?.();
  }

  /**
   * Runs `call`; while the proxy refuses it at a reached budget, waits for a raise and runs it
   * again. `aborted` is thrown when `signal` aborts during a wait.
   */
  async call<T>(call: () => Promise<T>, signal: AbortSignal, aborted: () => Error): Promise<T> {
    for (let waits = 0; ; waits++) {
      const seen = this.raises;
      try {
        return await call();
      } catch (err) {
        if (!isBudgetRefusal(err) || waits >= MAX_WAITS) throw err;
        if (this.raises === seen) await this.waitForRaise(seen, signal, aborted);
      }
    }
  }

  private waitForRaise(seen: number, signal: AbortSignal, aborted: () => Error): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.wake = undefined;
        signal.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        done();
        reject(aborted());
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort);
      this.wake = () => {
        if (this.raises === seen) return;
        done();
        resolve();
      };
    });
  }
}
