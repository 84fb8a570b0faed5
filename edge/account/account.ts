/**
 * The Account Durable Object: one per account (`idFromName(accountID)`).
 *
 * It holds the task index (for lists and search), the runner registry with credential
 * hashes, single-use registration-token hashes, and the runners' control WebSockets
 * (`control-sockets.ts`; hibernation; tag and attachment = runner id). It creates each
 * task's TaskRoom and is the dispatcher (`queue.ts`). A task's status has one owner, its
 * TaskRoom: the index keeps dispatch state and a projection of what the rooms report
 * (`taskChanged`, `fold.ts`).
 *
 * It deletes tasks whole (`deleteTask`: the runner gets `revoke`, the room wipes its storage
 * and artifacts, the row goes), indexes imported ones, and keeps the account's settings.
 * Its one alarm serves both the accept deadlines of the queue and the retention sweep
 * (`retention.ts`): it is set to the earlier of the two, and each run does whatever is due
 * of both (alarms are at-least-once; both jobs are idempotent). It keeps the devices
 * subscribed to Web Push and pushes when a task waits, reaches its budget or ends
 * (`push-notifier.ts`).
 *
 * Errors callers map to HTTP come back as values (`ErrorBody`), never thrown.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CAPS,
  CloseCode,
  ErrorCode,
  LIMITS,
  PING_TEXT,
  PONG_TEXT,
  type AccountSettings,
  type Environment,
  type EnvironmentRequest,
  type TaskEnvironment,
  taskEnvironmentOf,
  type ErrorBody,
  type PushSubscriptionRequest,
  type RegisterRunnerRequest,
  type RunnerInfo,
  type Task,
  errorBody,
  isTerminal,
} from "../../shared/index.ts";
import type { TaskRoom } from "../task-room/index.ts";
import { ControlSockets } from "./control-sockets.ts";
import { EnvironmentStore } from "./environment-store.ts";
import type { PushReason } from "../push/notice.ts";
import { PushNotifier } from "./push-notifier.ts";
import { TaskQueue } from "./queue.ts";
import { type MintedSecret, type RegisteredRunner, checkRunnerSecret, mintRegistrationToken, redeemRegistrationToken } from "./registry.ts";
import { AccountStore, HOLDING_STATUSES, type TaskQuery } from "./store.ts";
import { encodeCursor } from "./task-cursor.ts";
import { SWEEP_BATCH, earliest, nextSweepAt, retentionCutoff } from "./retention.ts";

export class Account extends DurableObject<Env> {
  private readonly store: AccountStore;
  private readonly queue: TaskQueue;
  #environments: EnvironmentStore | undefined;
  private readonly controls: ControlSockets;
  private readonly push: PushNotifier;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new AccountStore(ctx.storage.sql);
    this.push = new PushNotifier(ctx, env);
    this.queue = new TaskQueue(this.store, {
      room: (taskID) => this.room(taskID),
      readyRunners: () => this.store.listRunners().filter((r) => this.controls.isReady(r) && !this.store.isDraining(r.id)),
      send: (runnerID, frame) => this.controls.send(runnerID, frame),
      setAlarm: (at) => this.setAlarm(at),
      statusMoved: (before, task) => this.push.statusMoved(before, task),
    });
    this.controls = new ControlSockets(ctx, this.store, this.queue, (accountID) => this.rememberAccount(accountID));
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
  }

  // ── tasks ──────────────────────────────────────────────────────────────────

  /**
   * Creates a task: its TaskRoom first (the owner of its status and log), then the index
   * row from the record the room answers, then a dispatch. Returns the room's record, or
   * `rate_limited` when the account has its cap of unfinished tasks.
   */
  async createTask(accountID: string, task: Task): Promise<Task | ErrorBody> {
    if (this.store.countUnfinishedTasks() >= CAPS.maxUnfinishedTasksPerAccount) {
      return errorBody(ErrorCode.RateLimited, `this account has ${CAPS.maxUnfinishedTasksPerAccount} unfinished tasks: finish or cancel some first`);
    }
    this.rememberAccount(accountID);
    const created = await this.room(task.id).create(accountID, task);
    this.store.insertTask(created);
    await this.queue.dispatch();
    return created;
  }

  /** The TaskRoom reports a change (status, usage, diff, lastSeq), and a moment to push when it saw one (a budget reached). */
  async taskChanged(task: Task, notice?: PushReason): Promise<void> {
    // A budget reached also moves the task to waiting: its own push says it, not a second one.
    await this.push.withMoment(notice === "budget" ? task.id : null, () => this.queue.taskChanged(task));
    const indexed = notice ? this.store.getTask(task.id) : null;
    if (notice && indexed) this.push.notify(indexed.task, notice);
    // A task that ended may be the next one retention deletes.
    if (isTerminal(task.status) && this.retentionDays() !== null) await this.setAlarm(this.store.nextAcceptDeadline());
  }

  async listTasks(query: TaskQuery): Promise<{ tasks: Task[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(query.limit, 1), LIMITS.maxTasksPage);
    const rows = this.store.listTasks({ ...query, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor = rows.length > limit && last ? encodeCursor({ createdAt: last.task.createdAt, id: last.id }) : null;
    return { tasks: page.map((r) => r.task), nextCursor };
  }

  /**
   * Deletes a task whole: a runner holding it gets `revoke` (its data socket closes too), the
   * index row goes first (so no dispatch hands it out meanwhile), then the room wipes its
   * storage and artifacts. False when the account knows no such task. Safe to repeat.
   */
  async deleteTask(accountID: string, taskID: string, reason = "the task was deleted"): Promise<boolean> {
    const row = this.store.getTask(taskID);
    if (row && row.runnerID && HOLDING_STATUSES.includes(row.status)) {
      this.controls.send(row.runnerID, { type: "revoke", taskID, epoch: row.epoch, reason });
    }
    const indexed = this.store.deleteTask(taskID);
    const purged = await this.room(taskID).purge(accountID, reason);
    if (indexed) await this.queue.dispatch();
    return indexed || purged;
  }

  /** Indexes a task its room has just imported (terminal, never dispatched); a runner of the task it replaced gets `revoke`. */
  async indexImported(accountID: string, task: Task): Promise<void> {
    this.rememberAccount(accountID);
    const replaced = this.store.getTask(task.id);
    const held = replaced?.runnerID && HOLDING_STATUSES.includes(replaced.status) ? replaced : null;
    if (held) this.controls.send(held.runnerID!, { type: "revoke", taskID: task.id, epoch: held.epoch, reason: "the task was replaced by an import" });
    this.store.putImportedTask(task);
    if (held) await this.queue.dispatch();
    await this.setAlarm(this.store.nextAcceptDeadline());
  }

  async getSettings(): Promise<AccountSettings> {
    return { retentionDays: this.retentionDays() };
  }

  async putSettings(accountID: string, settings: AccountSettings): Promise<AccountSettings> {
    this.rememberAccount(accountID);
    this.store.setMeta("retentionDays", settings.retentionDays === null ? "" : String(settings.retentionDays));
    await this.setAlarm(this.store.nextAcceptDeadline());
    return this.getSettings();
  }

  /** True when the runner holds the task (assigned, running or waiting). */
  async runnerHolds(runnerID: string, taskID: string): Promise<boolean> {
    const row = this.store.getTask(taskID);
    return row !== null && row.runnerID === runnerID && HOLDING_STATUSES.includes(row.status);
  }

  // ── push notifications ─────────────────────────────────────────────────────

  /** The VAPID public key devices subscribe with; null when push is not configured. */
  async pushKey(): Promise<string | null> {
    return this.push.keys()?.publicKey ?? null;
  }

  /** Adds (or refreshes) a device's subscription; false when push is not configured. */
  async subscribePush(accountID: string, subscription: PushSubscriptionRequest): Promise<boolean> {
    if (!this.push.keys()) return false;
    this.rememberAccount(accountID);
    this.push.subscribe(subscription);
    return true;
  }

  async unsubscribePush(endpoint: string): Promise<boolean> {
    return this.push.unsubscribe(endpoint);
  }

  // ── runners ────────────────────────────────────────────────────────────────

  /** A new registration token's secret; the Worker makes the token of it. */
  async createRegistrationToken(accountID: string): Promise<MintedSecret | ErrorBody> {
    this.rememberAccount(accountID);
    return mintRegistrationToken(this.store);
  }

  /** Exchanges a registration token's secret (single use) for a runner and its credential's secret. */
  async registerRunner(accountID: string, secret: string, body: Omit<RegisterRunnerRequest, "token">): Promise<RegisteredRunner | ErrorBody> {
    this.rememberAccount(accountID);
    return redeemRegistrationToken(this.store, secret, body);
  }

  async authenticateRunner(runnerID: string, secret: string): Promise<boolean> {
    return checkRunnerSecret(this.store, runnerID, secret);
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return this.store.listRunners().map((r) => {
      const live = this.controls.isLive(r);
      const reason = live ? this.controls.drainingReason(r.id) : undefined;
      return { ...this.store.runnerInfo(this.controls.fresh(r), live), ...(reason ? { drainingReason: reason } : {}) };
    });
  }

  /** Drains a runner (no new assignments; what it holds runs on) or undrains it; false when there is no such runner. */
  async drainRunner(runnerID: string, draining: boolean): Promise<boolean> {
    if (this.store.getRunner(runnerID) === null) return false;
    this.store.setDraining(runnerID, draining);
    if (!draining) await this.queue.dispatch();
    return true;
  }

  /**
   * Deletes a runner: its credential stops working at once, its control socket closes
   * (`CloseCode.Revoked`), its unaccepted assignments go back to the queue and the rooms of the tasks it
   * ran are told (`revokeRunner`: their data sockets close, the task is lost).
   */
  async deleteRunner(runnerID: string): Promise<boolean> {
    if (!this.store.deleteRunner(runnerID)) return false;
    this.controls.close(runnerID, CloseCode.Revoked, "runner deleted");
    await this.queue.releaseRunner(runnerID, `runner ${runnerID} was deleted`);
    return true;
  }

  // ── environments ───────────────────────────────────────────────────────────

  async listEnvironments(): Promise<Environment[]> {
    return this.environments().list();
  }

  async createEnvironment(accountID: string, id: string, request: EnvironmentRequest): Promise<Environment | ErrorBody> {
    this.rememberAccount(accountID);
    const store = this.environments();
    if (store.count() >= LIMITS.maxEnvironments) return errorBody(ErrorCode.Conflict, `an account keeps at most ${LIMITS.maxEnvironments} environments`);
    return store.insert(id, request, new Date().toISOString());
  }

  async replaceEnvironment(id: string, request: EnvironmentRequest): Promise<Environment | null> {
    return this.environments().replace(id, request, new Date().toISOString());
  }

  async deleteEnvironment(id: string): Promise<boolean> {
    return this.environments().delete(id);
  }

  /**
   * The environment a new task on `url` gets, as its record carries it: the one named (null
   * when there is no such environment), else the best match by repository (undefined: none).
   */
  async resolveEnvironment(id: string | undefined, url: string): Promise<TaskEnvironment | null | undefined> {
    const env = this.environments().resolve(id, url);
    return env ? taskEnvironmentOf(env) : env;
  }

  private environments(): EnvironmentStore {
    return (this.#environments ??= new EnvironmentStore(this.ctx.storage.sql));
  }

  // ── control socket ─────────────────────────────────────────────────────────

  override async fetch(request: Request): Promise<Response> {
    return this.controls.upgrade(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.controls.onMessage(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.controls.onClose(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.controls.onError(ws, error);
  }

  /** Assignments not accepted in time go back to the queue; tasks past retention are deleted. */
  override async alarm(): Promise<void> {
    await this.queue.expireAssignments();
    await this.sweepRetention();
  }

  /** Deletes up to a batch of tasks past retention, then sets the alarm for what is next. */
  private async sweepRetention(): Promise<void> {
    const days = this.retentionDays();
    const accountID = this.store.getMeta("accountID");
    if (days !== null && accountID) {
      for (const row of this.store.expiredTasks(retentionCutoff(Date.now(), days), SWEEP_BATCH)) {
        await this.deleteTask(accountID, row.id, `the account keeps tasks for ${days} days`);
      }
    }
    await this.setAlarm(this.store.nextAcceptDeadline());
  }

  /** Sets the one alarm to the earlier of the next accept deadline and the next retention sweep. */
  private async setAlarm(acceptDeadline: number | null): Promise<void> {
    const at = earliest(acceptDeadline, nextSweepAt(Date.now(), this.retentionDays(), this.store.oldestEnded()));
    if (at === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(at);
  }

  private retentionDays(): number | null {
    const days = Number(this.store.getMeta("retentionDays") || NaN);
    return Number.isSafeInteger(days) && days > 0 ? days : null;
  }

  // ── plumbing ───────────────────────────────────────────────────────────────

  private room(taskID: string): DurableObjectStub<TaskRoom> {
    return this.env.TASK_ROOM.get(this.env.TASK_ROOM.idFromName(taskID));
  }

  private rememberAccount(accountID: string): void {
    if (this.store.getMeta("accountID") !== accountID) this.store.setMeta("accountID", accountID);
  }
}
