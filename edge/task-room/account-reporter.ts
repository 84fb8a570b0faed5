/**
 * Internal to the TaskRoom: keeps the Account's task index following the room. Reports go
 * out in order, one at a time; a failed one is logged, since the room's own state is the
 * truth and the next report carries the whole task again.
 */
import type { Task } from "../../shared/index.ts";
import type { PushReason } from "../push/notice.ts";

/** What the room needs of the Account. */
type AccountIndex = { taskChanged(task: Task, notice?: PushReason): Promise<void> };

/** Usage and diff reach the Account at most this often; status changes go at once. */
export const SUMMARY_REPORT_MS = 5_000;

export class AccountReporter {
  private chain: Promise<void> = Promise.resolve();
  private lastSummary = 0;

  constructor(
    private readonly env: Env,
    private readonly ctx: DurableObjectState,
  ) {}

  /** `notice` names a moment the Account pushes to the owner's devices (a budget reached); it is never throttled. */
  report(accountID: string, task: Task, statusChanged: boolean, notice?: PushReason): void {
    const now = Date.now();
    if (!statusChanged && !notice && now - this.lastSummary < SUMMARY_REPORT_MS) return;
    this.lastSummary = now;
    const snapshot = structuredClone(task);
    this.chain = this.chain.then(async () => {
      try {
        const account = this.env.ACCOUNT.get(this.env.ACCOUNT.idFromName(accountID)) as unknown as AccountIndex;
        await account.taskChanged(snapshot, notice);
      } catch (err) {
        console.error({ msg: "account taskChanged failed", taskID: snapshot.id, status: snapshot.status, err: String(err) });
      }
    });
    this.ctx.waitUntil(this.chain);
  }
}
