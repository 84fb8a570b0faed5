/**
 * The Account's Web Push (internal to edge/account/): the devices that opted in
 * (push-subscriptions.ts) and the pushes a task's moments send them (edge/push/notice.ts).
 *
 * A push runs in `ctx.waitUntil`, so the report that caused it never waits for a push
 * service. A subscription the push service answers 404 or 410 for is forgotten. Without
 * VAPID keys in the env, push is off: nothing is sent and subscribing is refused.
 */
import { type PushSubscriptionRequest, type Task, type TaskStatus } from "../../shared/index.ts";
import { type PushReason, pushPayloadOf, statusPushReason } from "../push/notice.ts";
import { sendPush } from "../push/send.ts";
import { type VapidKeys, vapidKeysOf } from "../push/vapid.ts";
import { PushSubscriptions } from "./push-subscriptions.ts";

export class PushNotifier {
  private readonly subscriptions: PushSubscriptions;
  private budgetMoment: string | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
  ) {
    this.subscriptions = new PushSubscriptions(ctx.storage.sql);
  }

  /** The VAPID keys, null when push is not configured. */
  keys(): VapidKeys | null {
    return vapidKeysOf(this.env);
  }

  subscribe(subscription: PushSubscriptionRequest): void {
    this.subscriptions.put({ endpoint: subscription.endpoint, ...subscription.keys });
  }

  unsubscribe(endpoint: string): boolean {
    return this.subscriptions.delete(endpoint);
  }

  /** The index moved a task's status: pushes when it began to wait (unless a budget moment of it says so) or ended. */
  statusMoved(before: TaskStatus, task: Task): void {
    const reason = statusPushReason(before, task.status);
    if (reason === "waiting" && this.budgetMoment === task.id) return;
    if (reason) this.notify(task, reason);
  }

  /** Runs `fn` while `taskID`'s budget moment stands for its move to waiting. */
  async withMoment<T>(taskID: string | null, fn: () => Promise<T>): Promise<T> {
    this.budgetMoment = taskID;
    try {
      return await fn();
    } finally {
      this.budgetMoment = null;
    }
  }

  /** Pushes `reason` for the task to every subscribed device, in the background. */
  notify(task: Task, reason: PushReason): void {
    const keys = this.keys();
    const targets = keys ? this.subscriptions.list() : [];
    if (!keys || targets.length === 0) return;
    const payload = pushPayloadOf(task, reason);
    const sends = targets.map(async (target) => {
      if ((await sendPush(keys, target, payload)) === "gone") this.subscriptions.delete(target.endpoint);
    });
    this.ctx.waitUntil(Promise.all(sends));
  }
}
