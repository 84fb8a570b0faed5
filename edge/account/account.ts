/**
 * The Account Durable Object: one per account (`idFromName(accountID)`).
 *
 * It holds the task index (for lists and search), the runner registry with credential
 * hashes, single-use registration-token hashes, and the runners' control WebSockets
 * (hibernation; tag and attachment = runner id). It is the dispatcher: when a task is
 * queued or a runner gains a free slot it picks a fitting online runner, bumps the task's
 * epoch, tells the TaskRoom (`assign`), pushes `assign` to the runner and waits
 * ACCEPT_SECONDS for `accept` (DO alarm); a `reject` or a silent runner puts the task
 * back in the queue (`TaskRoom.requeue`). The TaskRoom is the truth about a task once a
 * runner holds it: its `taskChanged` calls move the index, and after every requeue the
 * Account reads the room's record back before it dispatches again.
 *
 * Errors callers map to HTTP come back as values (`RoomError`), never thrown.
 */
import { DurableObject } from "cloudflare:workers";
import {
  ACCEPT_SECONDS,
  CloseCode,
  ErrorCode,
  HEARTBEAT_SECONDS,
  LEASE_SECONDS,
  LIMITS,
  PING_TEXT,
  PONG_TEXT,
  SILENT_HEARTBEATS,
  type EdgeToRunnerControl,
  type HeldTask,
  type RegisterRunnerRequest,
  type RegisterRunnerResponse,
  type RunnerInfo,
  RunnerToEdgeControl,
  type Task,
  answerCloseCode,
  errorFrameOf,
  parseFrame,
  unhandledFrame,
} from "../../shared/index.ts";
import { type Candidate, pickRunner } from "./dispatch.ts";
import { foldRoomTask } from "./fold.ts";
import { AccountStore, HOLDING_STATUSES, type RunnerRow, type TaskQuery, type TaskRow } from "./store.ts";
import { checkRunnerSecret, mintRegistrationToken, redeemRegistrationToken } from "./registry.ts";
import { isTaskID } from "../auth/credentials.ts";
import type { RoomError } from "../http-error.ts";
import { encodeCursor } from "./task-cursor.ts";

const DISPATCH_PAGE = 100;
/** A runner silent this long (missed heartbeats) is offline even if its socket looks open. */
const SILENT_SECONDS = SILENT_HEARTBEATS * HEARTBEAT_SECONDS;

type ControlAttachment = { runnerID: string; hello: boolean };

export class Account extends DurableObject<Env> {
  private readonly store: AccountStore;
  private dispatching = false;
  private dispatchAgain = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new AccountStore(ctx.storage.sql);
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
  }

  // ── tasks ──────────────────────────────────────────────────────────────────

  /** Indexes a task the Worker has just created in its TaskRoom, then dispatches. */
  async addTask(task: Task, accountID: string): Promise<void> {
    this.rememberAccount(accountID);
    this.store.insertTask(task);
    await this.dispatch();
  }

  /** The TaskRoom reports a change (status, usage, diff, lastSeq). */
  async taskChanged(task: Task): Promise<void> {
    if (this.applyRoomTask(task, false)) await this.dispatch();
  }

  async listTasks(query: TaskQuery): Promise<{ tasks: Task[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(query.limit, 1), LIMITS.maxTasksPage);
    const rows = this.store.listTasks({ ...query, limit: limit + 1 });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor = rows.length > limit && last ? encodeCursor({ createdAt: last.task.createdAt, id: last.id }) : null;
    return { tasks: page.map((r) => r.task), nextCursor };
  }

  /** True when the runner holds the task (assigned, running or waiting). */
  async runnerHolds(runnerID: string, taskID: string): Promise<boolean> {
    const row = this.store.getTask(taskID);
    return row !== null && row.runnerID === runnerID && HOLDING_STATUSES.includes(row.status);
  }

  // ── runners ────────────────────────────────────────────────────────────────

  async createRegistrationToken(accountID: string): Promise<{ token: string; expiresAt: string }> {
    this.rememberAccount(accountID);
    return mintRegistrationToken(this.store, accountID);
  }

  /** Exchanges a registration token's secret (single use) for a runner and its credential. */
  async registerRunner(accountID: string, secret: string, body: Omit<RegisterRunnerRequest, "token">): Promise<RegisterRunnerResponse | RoomError> {
    this.rememberAccount(accountID);
    return redeemRegistrationToken(this.store, accountID, secret, body);
  }

  async authenticateRunner(runnerID: string, secret: string): Promise<boolean> {
    return checkRunnerSecret(this.store, runnerID, secret);
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return this.store.listRunners().map((r) => this.store.runnerInfo(r, this.isLive(r)));
  }

  /**
   * Deletes a runner: its credential stops working at once, its control socket closes
   * (`CloseCode.Revoked`), its unaccepted assignments go back to the queue and the rooms of the tasks it
   * ran are told (`revokeRunner`: their data sockets close, the task is lost).
   */
  async deleteRunner(runnerID: string): Promise<boolean> {
    if (!this.store.deleteRunner(runnerID)) return false;
    for (const ws of this.controlSockets(runnerID)) ws.close(CloseCode.Revoked, "runner deleted");
    const reason = `runner ${runnerID} was deleted`;
    for (const row of this.store.heldTasks(runnerID)) {
      if (row.status === "assigned" && !row.accepted) await this.room(row.id).requeue(row.epoch, reason);
      await this.room(row.id).revokeRunner(runnerID, reason);
      await this.refreshFromRoom(row.id, true);
    }
    await this.dispatch();
    return true;
  }

  // ── control socket ─────────────────────────────────────────────────────────

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const runnerID = request.headers.get("x-tether-runner");
    const accountID = request.headers.get("x-tether-account");
    if (url.pathname !== "/control" || request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !runnerID || !accountID) {
      return Response.json(errorJSON(ErrorCode.NotFound, "no such endpoint"), { status: 404 });
    }
    if (this.store.getRunner(runnerID) === null) {
      return Response.json(errorJSON(ErrorCode.NotFound, "no such runner"), { status: 404 });
    }
    this.rememberAccount(accountID);
    for (const old of this.controlSockets(runnerID)) old.close(CloseCode.Replaced, "replaced by a newer connection");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [runnerID]);
    server.serializeAttachment({ runnerID, hello: false } satisfies ControlAttachment);
    this.store.touchRunner(runnerID, new Date().toISOString());
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as ControlAttachment | null;
    if (!att) return;
    try {
      const parsed = parseFrame(RunnerToEdgeControl, message, LIMITS.maxControlFrameBytes);
      if (!parsed.ok) return sendTo(ws, parsed.error);
      const frame = parsed.value;
      switch (frame.type) {
        case "hello":
          this.store.updateRunnerHello(att.runnerID, frame.labels, frame.capacity, frame.version, new Date().toISOString());
          ws.serializeAttachment({ runnerID: att.runnerID, hello: true } satisfies ControlAttachment);
          sendTo(ws, { type: "welcome", runnerID: att.runnerID, heartbeatSeconds: HEARTBEAT_SECONDS, leaseSeconds: LEASE_SECONDS });
          await this.renewHeld(att.runnerID, frame.tasks);
          await this.dispatch();
          return;
        case "heartbeat": {
          const before = this.store.getRunner(att.runnerID);
          this.store.touchRunner(att.runnerID, new Date().toISOString());
          await this.renewHeld(att.runnerID, frame.tasks);
          // A runner that was counted offline is back: its free slots count again.
          if (before && !this.isLive(before)) await this.dispatch();
          return;
        }
        case "accept":
          return this.accept(att.runnerID, frame.taskID, frame.epoch);
        case "reject":
          return await this.reject(att.runnerID, frame.taskID, frame.epoch, frame.reason);
        case "ping":
          return sendTo(ws, { type: "pong" });
        default:
          return unhandledFrame(frame);
      }
    } catch (err) {
      console.error({ msg: "control frame failed", runnerID: att.runnerID, err: String(err) });
      sendTo(ws, errorFrameOf(ErrorCode.Internal, "the edge could not handle this frame"));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(answerCloseCode(code), reason);
    } catch {
      // Already closed by the runtime.
    }
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    const att = ws.deserializeAttachment() as ControlAttachment | null;
    console.error({ msg: "control socket error", runnerID: att?.runnerID, err: String(error) });
  }

  /** Assignments not accepted in time go back to the queue. Idempotent (alarms are at-least-once). */
  override async alarm(): Promise<void> {
    for (const row of this.store.overdueAssignments(Date.now())) {
      await this.requeue(row, `runner ${row.runnerID} did not accept the task within ${ACCEPT_SECONDS} s`, null);
    }
    await this.dispatch();
    await this.scheduleAlarm();
  }

  // ── dispatch ───────────────────────────────────────────────────────────────

  private async dispatch(): Promise<void> {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.dispatchAgain = false;
        await this.dispatchOnce();
      } while (this.dispatchAgain);
    } finally {
      this.dispatching = false;
    }
  }

  private async dispatchOnce(): Promise<void> {
    const candidates = this.candidates();
    const free = () => candidates.some((c) => c.load < c.capacity);
    // The queue is read a page at a time until no runner has a free slot, so tasks
    // nobody can take never hide the ones behind them.
    for (let page = this.store.queuedTasks(DISPATCH_PAGE); page.length > 0 && free(); page = this.nextPage(page)) {
      if (!(await this.dispatchPage(page, candidates))) return;
    }
  }

  private nextPage(page: TaskRow[]): TaskRow[] {
    const last = page[page.length - 1]!;
    return page.length < DISPATCH_PAGE ? [] : this.store.queuedTasks(DISPATCH_PAGE, { createdAt: last.task.createdAt, id: last.id });
  }

  /** Assigns what it can of one page; false when a room failed and dispatch should stop for now. */
  private async dispatchPage(page: TaskRow[], candidates: Candidate[]): Promise<boolean> {
    for (const listed of page) {
      // Read again: an earlier await may have let a cancel or another dispatch change it.
      const row = this.store.getTask(listed.id);
      if (!row || row.status !== "queued") continue;
      const pick = pickRunner(row.labels, candidates, row.rejectedBy);
      if (!pick) continue;
      const epoch = row.epoch + 1;
      // The row is marked before any await, so no other dispatch can hand it out again.
      this.store.saveTask({ ...row, status: "assigned", runnerID: pick.id, epoch, accepted: false, acceptDeadline: Date.now() + ACCEPT_SECONDS * 1000 });
      pick.load++;
      await this.scheduleAlarm();
      let assigned: boolean;
      try {
        assigned = await this.room(row.id).assign(pick.id, epoch, LEASE_SECONDS);
      } catch (err) {
        console.error({ msg: "TaskRoom.assign failed", taskID: row.id, err: String(err) });
        this.store.saveTask({ ...row, epoch });
        return false;
      }
      const now = this.store.getTask(row.id);
      if (!assigned) {
        pick.load--;
        await this.refreshFromRoom(row.id, true);
        continue;
      }
      if (now && now.status === "assigned" && now.epoch === epoch && now.runnerID === pick.id) {
        this.send(pick.id, { type: "assign", assignment: { task: now.task, epoch, leaseSeconds: LEASE_SECONDS } });
      }
    }
    return true;
  }

  /** Online runners (open control socket, said hello) with their current load. */
  private candidates(): Candidate[] {
    const out: Candidate[] = [];
    for (const r of this.store.listRunners()) {
      const ready = this.controlSockets(r.id).some((ws) => (ws.deserializeAttachment() as ControlAttachment | null)?.hello === true);
      if (ready && this.isLive(r)) out.push({ id: r.id, labels: r.labels, capacity: r.capacity, load: this.store.heldTasks(r.id).length });
    }
    return out;
  }

  private accept(runnerID: string, taskID: string, epoch: number): void {
    const row = this.store.getTask(taskID);
    if (row && row.runnerID === runnerID && row.epoch === epoch && HOLDING_STATUSES.includes(row.status)) {
      if (!row.accepted) this.store.saveTask({ ...row, accepted: true, acceptDeadline: null });
      return;
    }
    this.send(runnerID, { type: "revoke", taskID, epoch, reason: "this assignment is no longer current" });
  }

  private async reject(runnerID: string, taskID: string, epoch: number, reason: string): Promise<void> {
    const row = this.store.getTask(taskID);
    if (!row || row.runnerID !== runnerID || row.epoch !== epoch || row.status !== "assigned") return;
    await this.requeue(row, `runner ${runnerID} rejected the task: ${reason}`, runnerID);
    await this.dispatch();
  }

  /**
   * Takes an assignment back. The row leaves the alarm's view first (no deadline), the
   * room requeues it unless the runner already attached, and the room's answer decides.
   */
  private async requeue(row: TaskRow, reason: string, rejectedBy: string | null): Promise<void> {
    this.store.saveTask({ ...row, acceptDeadline: null, rejectedBy });
    try {
      await this.room(row.id).requeue(row.epoch, reason);
      const task = await this.refreshFromRoom(row.id, true);
      if (task?.status === "queued" && rejectedBy === null && row.runnerID) {
        this.send(row.runnerID, { type: "revoke", taskID: row.id, epoch: row.epoch, reason });
      }
    } catch (err) {
      console.error({ msg: "requeue failed; the alarm retries", taskID: row.id, err: String(err) });
      const current = this.store.getTask(row.id);
      if (current && current.epoch === row.epoch && current.status === "assigned" && !current.accepted) {
        this.store.saveTask({ ...current, acceptDeadline: Date.now() + ACCEPT_SECONDS * 1000 });
      }
    }
    await this.scheduleAlarm();
  }

  /** Heartbeat and hello: renew each held lease; a task the runner may no longer run gets `revoke`. */
  private async renewHeld(runnerID: string, tasks: HeldTask[]): Promise<void> {
    await Promise.all(
      tasks.map(async ({ taskID, epoch }) => {
        const row = isTaskID(taskID) ? this.store.getTask(taskID) : null;
        const renewed = row !== null && (await this.room(taskID).renewLease(runnerID, epoch));
        if (!renewed) this.send(runnerID, { type: "revoke", taskID, epoch, reason: "the edge holds no live lease of this task for this runner" });
      }),
    );
  }

  private async scheduleAlarm(): Promise<void> {
    const next = this.store.nextAcceptDeadline();
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  // ── the index follows the rooms ────────────────────────────────────────────

  private async refreshFromRoom(taskID: string, authoritative: boolean): Promise<Task | null> {
    const accountID = this.store.getMeta("accountID");
    if (!accountID) return null;
    const task = await this.room(taskID).getTask(accountID);
    if (task && this.applyRoomTask(task, authoritative)) await this.dispatch();
    return task;
  }

  /** Folds a room's record into the index; true when that may let dispatch do something. */
  private applyRoomTask(task: Task, authoritative: boolean): boolean {
    const row = this.store.getTask(task.id);
    if (!row) return false;
    const fold = foldRoomTask(row, task, authoritative);
    if (!fold) return false;
    this.store.saveTask(fold.next);
    if (fold.revoke && row.runnerID) this.send(row.runnerID, { type: "revoke", taskID: row.id, epoch: row.epoch, reason: fold.revoke });
    return fold.dispatch;
  }

  // ── plumbing ───────────────────────────────────────────────────────────────

  private room(taskID: string): DurableObjectStub<import("../task-room/task-room.ts").TaskRoom> {
    return this.env.TASK_ROOM.get(this.env.TASK_ROOM.idFromName(taskID));
  }

  private rememberAccount(accountID: string): void {
    if (this.store.getMeta("accountID") !== accountID) this.store.setMeta("accountID", accountID);
  }

  /**
   * Online: an open control socket and a heartbeat within SILENT_SECONDS. A socket whose
   * peer vanished can look open for minutes; its missing heartbeats tell.
   */
  private isLive(r: RunnerRow): boolean {
    const seen = r.lastSeenAt === null ? 0 : Date.parse(r.lastSeenAt);
    return this.controlSockets(r.id).length > 0 && Date.now() - seen <= SILENT_SECONDS * 1000;
  }

  private controlSockets(runnerID: string): WebSocket[] {
    return this.ctx.getWebSockets(runnerID).filter((ws) => ws.readyState === WebSocket.OPEN);
  }

  private send(runnerID: string, frame: EdgeToRunnerControl): void {
    for (const ws of this.controlSockets(runnerID)) sendTo(ws, frame);
  }
}

function sendTo(ws: WebSocket, frame: EdgeToRunnerControl): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch (err) {
    console.error({ msg: "send on control socket failed", err: String(err) });
  }
}

function errorJSON(code: ErrorCode, message: string): { error: { code: ErrorCode; message: string } } {
  return { error: { code, message } };
}
