/**
 * TaskRoom: one Durable Object per task, the only sequencer of its event log.
 *
 * It holds the task record, the log (`seq` 1, 2, 3 … with no gaps), the lease and the
 * sockets. The Worker names it `idFromName(taskID)`, calls it by RPC and forwards WebSocket
 * upgrades after authenticating the caller (`x-tether-account` plus `x-tether-user` on
 * `/viewer?after=N`, or `x-tether-runner` on `/runner`). Another account gets `null` (404).
 *
 * - Viewers get every event after `after` in `events` frames, then `replayed`, then live
 *   events. The replay starts in the accept's turn and goes on a page per turn (`log.ts`);
 *   every append fans out in the turn that writes it to the viewers done replaying, so each
 *   socket sees each `seq` exactly once, also across hibernation (the state is in SQLite
 *   and the socket attachments).
 * - The lease holder's data socket (`runner-sockets.ts`) says `attach`, then sends `events`
 *   batches tagged `(epoch, rseq)`. A batch is one transaction; the cumulative `ack` follows
 *   the write (the output gate holds every send until the write is durable); repeats are
 *   dropped and acked; a batch that arrives ahead of a gap waits (bounded) for the gap to
 *   fill. Frames of an older epoch get `stale_epoch` and the socket is closed.
 * - Users' messages, finishes, cancels and raises of limits (`commands.ts` says which a task takes) become
 *   log events and reach the attached runner as `command`; `attach` re-delivers those after
 *   the runner's `afterCommandSeq`.
 * - The lease alarm marks a task whose runner went silent for the lease TTL as waiting for an
 *   unreachable runner (`reachability.ts`), and turns it `lost` only after the grace
 *   (`RUNNER_GRACE_SECONDS`); the runner that comes back in time resumes under its fence.
 * - The same alarm closes approvals left unanswered past their time as no (`approvals.ts`).
 * - The room owns the task's status. Status changes (and usage, at most every few seconds)
 *   reach the Account's index, which only projects them (`room-state.ts` keeps the record,
 *   the lease, the alarm and those reports in step).
 *
 * - Export, import and delete (`archive.ts`) keep a task's data beyond its run.
 * - Caps (`CAPS`): viewers per task (`viewer-sockets.ts`), frames per second per socket,
 *   follow-ups per minute and events per task; over one is `rate_limited` (a 429 upgrade
 *   answer, or an error frame). A runner batch that would pass the event cap ends the task
 *   `failed` (its sockets close 4410).
 *
 * Errors callers map to HTTP come back as values (`ErrorBody`), never thrown.
 */
import { DurableObject } from "cloudflare:workers";
import {
  CAPS,
  CloseCode,
  ErrorCode,
  LEASE_SECONDS,
  LIMITS,
  PING_TEXT,
  PONG_TEXT,
  errorBody,
  errorFrameOf,
  isTerminal,
  type ArtifactEntry,
  type Command,
  type ErrorBody,
  type EdgeToRunnerData,
  type Event,
  type Task,
} from "../../shared/index.ts";
import { errorResponse } from "../http-error.ts";
import type { ApprovalAnswer, ApprovalEffects } from "./approvals.ts";
import { RoomArchive, type ImportedEvent } from "./archive.ts";
import { TokenBucket } from "../rate-limit.ts";
import { type Refusal, type UserCommand, refuseCommand } from "./commands.ts";
import { frameText } from "./frames.ts";
import { cancelEndsAtOnce, decideAssign, graceSecondsOf, holds, leaseStep, lostReason } from "./lease.ts";
import { logRaise } from "./limits.ts";
import type { TaskLog } from "./log.ts";
import { markUnreachable } from "./reachability.ts";
import { RoomState } from "./room-state.ts";
import { RunnerSockets } from "./runner-sockets.ts";
import { answerClose, closeSocket, notFound, readUpgrade, sendError, switchingProtocols, type Attachment } from "./sockets.ts";
import { type TaskRoomStore, parseStoredEvent, type Lease, type RoomRecord, type StoredEvent } from "./store.ts";
import { ViewerSockets } from "./viewer-sockets.ts";

/** A JSON value as RPC types can carry it (`unknown` does not cross an RPC boundary). */
export type JSONValue = string | number | boolean | null | object;
/** An `Event` whose data is typed for RPC. */
export type LogEvent = Omit<Event, "data"> & { data: { [key: string]: JSONValue } };

export class TaskRoom extends DurableObject<Env> {
  private readonly state: RoomState;
  private readonly store: TaskRoomStore;
  private readonly log: TaskLog;
  private readonly archive: RoomArchive;
  private readonly viewers: ViewerSockets;
  private readonly runners: RunnerSockets;
  /** Follow-ups per minute, in memory: a hibernation starts them afresh. */
  private readonly followUps = new TokenBucket(CAPS.followUpsPerMinute / 60, CAPS.followUpsPerMinute);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.state = new RoomState(ctx, env);
    this.store = this.state.store;
    this.log = this.state.log;
    this.viewers = new ViewerSockets(ctx, this.state, (room, by, command) => this.runCommand(room, by, command));
    this.runners = new RunnerSockets(ctx, this.state, (status, reason) => this.endTask(status, reason));
    this.archive = new RoomArchive(ctx, env, this.state, (reason) => {
      this.runners.close(() => true, CloseCode.Revoked, reason);
      for (const ws of ctx.getWebSockets("viewer")) closeSocket(ws, CloseCode.Gone, reason);
    });
    // Answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(PING_TEXT, PONG_TEXT));
  }

  // ── RPC ───────────────────────────────────────────────────────────────────

  async create(accountID: string, task: Task): Promise<Task> {
    const existing = this.state.load();
    if (existing) {
      if (existing.accountID !== accountID || existing.task.id !== task.id) {
        throw new Error(`task room ${existing.task.id} already exists for another task or account`);
      }
      return existing.task;
    }
    const now = new Date().toISOString();
    const record: RoomRecord = {
      accountID,
      task: { ...task, status: "queued", statusReason: null, runnerID: null, lastSeq: 0, updatedAt: now },
      lease: null,
      lastEpoch: 0,
    };
    this.state.insert(record);
    return record.task;
  }

  async getTask(accountID: string): Promise<Task | null> {
    return this.state.of(accountID)?.task ?? null;
  }

  async listEvents(accountID: string, after: number, limit: number): Promise<{ events: LogEvent[]; nextAfter: number } | null> {
    if (!this.state.of(accountID)) return null;
    const from = Number.isSafeInteger(after) && after > 0 ? after : 0;
    const count = Number.isSafeInteger(limit) ? Math.min(Math.max(limit, 1), LIMITS.maxEventsPage) : LIMITS.maxEventsPage;
    const events = this.store.eventsAfter(from, count).map((e) => parseStoredEvent(e) as LogEvent);
    return { events, nextAfter: events.at(-1)?.seq ?? from };
  }

  async command(accountID: string, by: string, command: UserCommand): Promise<{ task: Task; seq: number } | ErrorBody | null> {
    const room = this.state.of(accountID);
    if (!room) return null;
    const result = this.runCommand(room, by, command);
    return "code" in result ? errorBody(result.code, result.message) : result;
  }

  /** Logs a user's command and hands it to the runner, or ends a task no runner has taken. */
  private runCommand(room: RoomRecord, by: string, command: UserCommand): { task: Task; seq: number } | Refusal {
    const refusal = refuseCommand(room.task, room.lease, command, by) ?? this.refuseFollowUp(room.task, command);
    if (refusal) return refusal;
    if (command.kind === "approval") return this.answerApproval(room, by, command);
    const task = room.task;
    const endsNow = command.kind === "cancel" && cancelEndsAtOnce(task, room.lease);
    let stored: Command | undefined;
    this.state.commit(() => {
      if (command.kind === "message") {
        const text = command.text.trim();
        stored = { seq: this.log.appendEdge(task, "user.message", { text, by }).seq, kind: "message", text };
      } else if (command.kind === "limits") {
        stored = logRaise(this.log, task, command.limits, by);
      } else if (command.kind === "egress.allow") {
        stored = { seq: this.log.appendEdge(task, "user.egress", { host: command.host, by }).seq, kind: "egress.allow", host: command.host };
      } else {
        const seq = this.log.appendEdge(task, `user.${command.kind}`, { by }).seq;
        stored = command.kind === "finish" ? { seq, kind: "finish" } : { seq, kind: "cancel" };
      }
      this.store.insertCommand(stored);
      if (endsNow) {
        const unreachable = room.lease?.unreachableSince != null ? `while runner ${room.lease.runnerID} was unreachable` : null;
        this.log.setStatus(task, "cancelled", `cancelled by ${by} ${unreachable ?? "before a runner started it"}`);
        this.state.setLease(null);
      }
    });
    if (endsNow) {
      this.state.cancelAlarm();
      this.state.report(true);
    } else {
      this.runners.sendToHolder(frameText<EdgeToRunnerData>({ type: "command", taskID: task.id, command: stored! }));
    }
    return { task, seq: stored!.seq };
  }

  /** Closes a question with a viewer's answer; hands it to the runner, and cancels for a rejected plan. */
  private answerApproval(room: RoomRecord, by: string, answer: ApprovalAnswer): { task: Task; seq: number } | Refusal {
    const refusal = this.state.approvals.refuse(room.task, answer);
    if (refusal) return refusal;
    let answered: { seq: number; effects: ApprovalEffects } | undefined;
    this.state.commit(() => {
      answered = this.state.approvals.answer(room.task, by, answer);
    });
    this.applyApprovals(room, answered!.effects);
    return { task: room.task, seq: answered!.seq };
  }

  private applyApprovals(room: RoomRecord, effects: ApprovalEffects): void {
    for (const command of effects.commands) this.runners.sendToHolder(command);
    if (effects.allowHost) this.runCommand(room, effects.allowHost.by, { kind: "egress.allow", host: effects.allowHost.host });
    if (effects.cancel) this.runCommand(room, effects.cancel.by, { kind: "cancel" });
    this.state.report(true);
  }

  /** A follow-up over the task's event cap or its rate per minute; finish and cancel always pass. */
  private refuseFollowUp(task: Task, command: UserCommand): Refusal | null {
    if (command.kind !== "message") return null;
    if (task.lastSeq >= CAPS.maxEventsPerTask) {
      return { code: ErrorCode.RateLimited, message: `task ${task.id} has ${CAPS.maxEventsPerTask} events, its cap: finish or cancel it` };
    }
    if (!this.followUps.take()) {
      return { code: ErrorCode.RateLimited, message: `at most ${CAPS.followUpsPerMinute} follow-ups a minute: wait a little` };
    }
    return null;
  }

  /** `graceSeconds` defaults to the edge's `RUNNER_GRACE_SECONDS`. */
  async assign(runnerID: string, epoch: number, leaseSeconds: number, graceSeconds?: number): Promise<boolean> {
    const room = this.state.load();
    if (!room) return false;
    const decision = decideAssign(room.task, room.lease, room.lastEpoch, runnerID, epoch);
    if (decision === "again") this.state.renew(room.lease!);
    if (decision !== "take") return decision === "again";
    const seconds = Number.isSafeInteger(leaseSeconds) && leaseSeconds > 0 ? leaseSeconds : LEASE_SECONDS;
    const grace = graceSeconds !== undefined && Number.isSafeInteger(graceSeconds) && graceSeconds > 0 ? graceSeconds : graceSecondsOf(this.env.RUNNER_GRACE_SECONDS);
    const next: Lease = { runnerID, epoch, seconds, expiresAt: Date.now() + seconds * 1000, attached: false, graceSeconds: grace, unreachableSince: null };
    this.state.commit(() => {
      room.task.runnerID = runnerID;
      this.log.setStatus(room.task, "assigned", null, { runnerID });
      this.state.setLease(next);
    });
    this.runners.close((a) => a.epoch !== null && a.epoch !== epoch, CloseCode.Replaced, "the task was assigned again");
    this.state.scheduleAlarm(next.expiresAt);
    return true;
  }

  async requeue(epoch: number, reason: string): Promise<void> {
    const room = this.state.load();
    const lease = room?.lease;
    if (!room || !lease || lease.epoch !== epoch || lease.attached || room.task.status !== "assigned") return;
    this.state.commit(() => {
      room.task.runnerID = null;
      this.log.setStatus(room.task, "queued", String(reason).slice(0, 2000));
      this.state.setLease(null);
    });
    this.state.cancelAlarm();
  }

  async renewLease(runnerID: string, epoch: number): Promise<boolean> {
    const room = this.state.load();
    if (!room || !holds(room.lease, runnerID, epoch) || isTerminal(room.task.status)) return false;
    this.state.renew(room.lease);
    return true;
  }

  /** True while `(runnerID, epoch)` holds the task and it has not ended: uploads end with the terminal status. */
  async holdsLease(accountID: string, runnerID: string, epoch: number): Promise<boolean> {
    const room = this.state.of(accountID);
    return !!room && holds(room.lease, runnerID, epoch) && !isTerminal(room.task.status);
  }

  async revokeRunner(runnerID: string, reason: string): Promise<void> {
    this.runners.close((a) => a.runnerID === runnerID, CloseCode.Revoked, "runner revoked");
    const room = this.state.load();
    if (room?.lease?.runnerID === runnerID && !isTerminal(room.task.status)) this.markLost(String(reason).slice(0, 2000));
  }

  // ── export, import, delete (archive.ts) ───────────────────────────────────

  async exportEvents(accountID: string, after: number, upTo: number, limit: number): Promise<StoredEvent[] | null> {
    return this.archive.eventTexts(accountID, after, upTo, limit);
  }

  async purge(accountID: string, reason: string): Promise<boolean> {
    return this.archive.purge(accountID, String(reason).slice(0, 2000));
  }

  async importStart(accountID: string, taskID: string, replace: boolean): Promise<{ token: string } | ErrorBody> {
    return this.archive.importStart(accountID, taskID, replace === true);
  }

  async importEvents(token: string, events: ImportedEvent[]): Promise<ErrorBody | null> {
    return this.archive.importEvents(token, events);
  }

  async importFinish(token: string, task: Task, artifacts: ArtifactEntry[]): Promise<Task | ErrorBody> {
    return this.archive.importFinish(token, task, artifacts);
  }

  async manifestEntry(accountID: string, name: string): Promise<ArtifactEntry | null> {
    return this.archive.manifestEntry(accountID, name);
  }

  // ── sockets ───────────────────────────────────────────────────────────────

  override async fetch(request: Request): Promise<Response> {
    try {
      return this.upgrade(request);
    } catch (err) {
      console.error({ msg: "task room upgrade failed", err: String(err) });
      return errorResponse(ErrorCode.Internal, "internal error");
    }
  }

  private upgrade(request: Request): Response {
    const room = this.state.of(request.headers.get("x-tether-account") ?? "");
    if (!room) return notFound();
    const read = readUpgrade(request);
    if (read instanceof Response) return read;
    const { attachment, after } = read;
    const full = attachment.role === "viewer" ? this.viewers.refuseJoin(room.task) : null;
    if (full) return full;
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    this.ctx.acceptWebSocket(server, [attachment.role]);
    server.serializeAttachment(attachment);
    // The replay starts in the same turn as the accept: no append can fall between the two.
    if (attachment.role === "viewer") this.log.replay(server, attachment.socketID, () => this.state.load()!.task, after);
    return switchingProtocols(request, client);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as Attachment | null;
    try {
      const rates = attachment?.role === "viewer" ? this.viewers.rates : this.runners.rates;
      if (attachment && !rates.take(attachment.socketID)) return sendError(ws, errorFrameOf(ErrorCode.RateLimited, "too many frames: the frame was dropped, slow down"));
      if (attachment?.role === "viewer") await this.viewers.onFrame(ws, attachment, message);
      else if (attachment?.role === "runner") this.runners.onFrame(ws, attachment, message);
    } catch (err) {
      console.error({ msg: "task room frame failed", taskID: this.state.taskID, role: attachment?.role, err: String(err) });
      sendError(ws, errorFrameOf(ErrorCode.Internal, "internal error"));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.forgetRates(ws);
    answerClose(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    this.forgetRates(ws);
    console.error({ msg: "task room socket error", taskID: this.state.taskID, err: String(error) });
  }

  private forgetRates(ws: WebSocket): void {
    const attachment = ws.deserializeAttachment() as Attachment | null;
    if (attachment) (attachment.role === "viewer" ? this.viewers.rates : this.runners.rates).forget(attachment.socketID);
  }

  override async alarm(): Promise<void> {
    const room = this.state.load();
    const lease = room?.lease;
    if (!room || !lease || isTerminal(room.task.status)) return;
    this.expireApprovals(room);
    // Frames since the lease was last written, and pings answered by the auto-response
    // (they never woke the room), count as contact.
    lease.expiresAt = this.state.heardUntil(lease);
    for (const ws of this.runners.holderSockets(lease)) {
      const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime();
      if (pinged && pinged + lease.seconds * 1000 > room.lease!.expiresAt) this.state.renew(room.lease!, pinged);
    }
    const current = room.lease!;
    const now = Date.now();
    const step = leaseStep(current, now);
    if (step.kind === "lost") return this.markLost(lostReason(current));
    if (step.kind === "unreachable") markUnreachable(this.state, room, current, now);
    this.state.scheduleAlarm(step.until);
  }

  // ── internals ─────────────────────────────────────────────────────────────

  /** Closes the questions past their time as no: the alarm decides, never the worker. */
  private expireApprovals(room: RoomRecord): void {
    let effects: ApprovalEffects | undefined;
    this.state.commit(() => {
      effects = this.state.approvals.expire(room.task, Date.now());
    });
    if (effects!.commands.length > 0) this.applyApprovals(room, effects!);
  }

  private markLost(reason: string): void {
    this.endTask("lost", reason);
  }

  /** Ends the task from the edge (its runner went silent, or its log is full); its runner's sockets close for good. */
  private endTask(status: "lost" | "failed", reason: string): void {
    const room = this.state.load()!;
    this.state.commit(() => {
      this.log.setStatus(room.task, status, reason, room.lease ? { runnerID: room.lease.runnerID } : {});
      this.state.approvals.settle(room.task);
    });
    this.state.cancelAlarm();
    this.runners.close(() => true, CloseCode.Gone, `the task is ${status}`);
    this.state.report(true);
  }
}
