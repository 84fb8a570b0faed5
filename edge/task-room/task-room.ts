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
 * - The lease holder's data socket says `attach`, then sends `events` batches tagged
 *   `(epoch, rseq)`. A batch is one transaction; the cumulative `ack` follows the write (the
 *   output gate holds every send until the write is durable); repeats are dropped and acked;
 *   a batch that arrives ahead of a gap waits (bounded) for the gap to fill.
 *   Frames of an older epoch get `stale_epoch` and the socket is closed.
 * - Users' messages, finishes and cancels (`commands.ts` says which a task takes) become
 *   log events and reach the attached runner as `command`; `attach` re-delivers those after
 *   the runner's `afterCommandSeq`.
 * - The lease alarm turns a task whose runner went silent for the lease TTL into `lost`.
 * - The room owns the task's status. Status changes (and usage, at most every few seconds)
 *   reach the Account's index, which only projects them (`room-state.ts` keeps the record,
 *   the lease, the alarm and those reports in step).
 *
 * - Export, import and delete (`archive.ts`) keep a task's data beyond its run.
 * - Caps (`CAPS`): viewers per task, frames per second per socket, follow-ups per minute and
 *   events per task; over one is `rate_limited` (a 429 upgrade answer, or an error frame). A
 *   runner batch that would pass the event cap ends the task `failed` (its sockets close 4410).
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
  RunnerToEdgeData,
  ViewerToEdge,
  errorBody,
  errorFrameOf,
  isTerminal,
  parseFrame,
  unhandledFrame,
  type ArtifactEntry,
  type Command,
  type ErrorBody,
  type EdgeToRunnerData,
  type Event,
  type RunnerEvent,
  type Task,
} from "../../shared/index.ts";
import { errorResponse } from "../http-error.ts";
import { RoomArchive, type ImportedEvent } from "./archive.ts";
import { SocketRates, TokenBucket } from "../rate-limit.ts";
import { type Refusal, type UserCommand, refuseCommand } from "./commands.ts";
import { HeldFrames, applyRunnerEvent, prepareBatch, walkFrames, type TaskChange } from "./batch.ts";
import { reachesBudget } from "../push/notice.ts";
import { frameText, type FrameText } from "./frames.ts";
import { cancelEndsAtOnce, decideAssign, holderRefusal, holds, lostReason } from "./lease.ts";
import type { TaskLog } from "./log.ts";
import { RoomState } from "./room-state.ts";
import {
  answerClose,
  closeSocket,
  notFound,
  readUpgrade,
  sendAll,
  sendError,
  sendToRunner,
  sendToViewer,
  switchingProtocols,
  type Attachment,
  type RunnerAttachment,
  type ViewerAttachment,
} from "./sockets.ts";
import { type TaskRoomStore, parseStoredEvent, type Lease, type RoomRecord, type StoredEvent } from "./store.ts";

/** A JSON value as RPC types can carry it (`unknown` does not cross an RPC boundary). */
export type JSONValue = string | number | boolean | null | object;
/** An `Event` whose data is typed for RPC. */
export type LogEvent = Omit<Event, "data"> & { data: { [key: string]: JSONValue } };

export class TaskRoom extends DurableObject<Env> {
  private readonly state: RoomState;
  private readonly store: TaskRoomStore;
  private readonly log: TaskLog;
  private readonly archive: RoomArchive;
  /** Runner events that arrived beyond a gap; memory only, the runner resends after attach. */
  private readonly held = new HeldFrames();
  /** Rates of sockets and follow-ups, in memory: a hibernation starts them afresh. */
  private readonly viewerRates = new SocketRates(CAPS.viewerFramesPerSecond);
  private readonly runnerRates = new SocketRates(CAPS.runnerFramesPerSecond);
  private readonly followUps = new TokenBucket(CAPS.followUpsPerMinute / 60, CAPS.followUpsPerMinute);

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.state = new RoomState(ctx, env);
    this.store = this.state.store;
    this.log = this.state.log;
    this.archive = new RoomArchive(ctx, env, this.state, (reason) => {
      this.closeRunners(() => true, CloseCode.Revoked, reason);
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
    const refusal = refuseCommand(room.task, room.lease, command) ?? this.refuseFollowUp(room.task, command);
    if (refusal) return refusal;
    const task = room.task;
    const endsNow = command.kind === "cancel" && cancelEndsAtOnce(task, room.lease);
    let stored: Command | undefined;
    this.state.commit(() => {
      if (command.kind === "message") {
        const text = command.text.trim();
        stored = { seq: this.log.appendEdge(task, "user.message", { text, by }).seq, kind: "message", text };
      } else if (command.kind === "egress.allow") {
        stored = { seq: this.log.appendEdge(task, "user.egress", { host: command.host, by }).seq, kind: "egress.allow", host: command.host };
      } else {
        const seq = this.log.appendEdge(task, `user.${command.kind}`, { by }).seq;
        stored = command.kind === "finish" ? { seq, kind: "finish" } : { seq, kind: "cancel" };
      }
      this.store.insertCommand(stored);
      if (endsNow) {
        this.log.setStatus(task, "cancelled", `cancelled by ${by} before a runner started it`);
        this.state.setLease(null);
      }
    });
    if (endsNow) {
      this.state.cancelAlarm();
      this.state.report(true);
    } else {
      this.sendToHolder(frameText<EdgeToRunnerData>({ type: "command", taskID: task.id, command: stored! }));
    }
    return { task, seq: stored!.seq };
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

  async assign(runnerID: string, epoch: number, leaseSeconds: number): Promise<boolean> {
    const room = this.state.load();
    if (!room) return false;
    const decision = decideAssign(room.task, room.lease, room.lastEpoch, runnerID, epoch);
    if (decision === "again") this.state.renew(room.lease!);
    if (decision !== "take") return decision === "again";
    const seconds = Number.isSafeInteger(leaseSeconds) && leaseSeconds > 0 ? leaseSeconds : LEASE_SECONDS;
    const next: Lease = { runnerID, epoch, seconds, expiresAt: Date.now() + seconds * 1000, attached: false };
    this.state.commit(() => {
      room.task.runnerID = runnerID;
      this.log.setStatus(room.task, "assigned", null, { runnerID });
      this.state.setLease(next);
    });
    this.closeRunners((a) => a.epoch !== null && a.epoch !== epoch, CloseCode.Replaced, "the task was assigned again");
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
    this.closeRunners((a) => a.runnerID === runnerID, CloseCode.Revoked, "runner revoked");
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
    if (attachment.role === "viewer" && this.ctx.getWebSockets("viewer").length >= CAPS.maxViewersPerTask) {
      return errorResponse(ErrorCode.RateLimited, `task ${room.task.id} has ${CAPS.maxViewersPerTask} viewers, its cap`);
    }
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
      const rates = attachment?.role === "viewer" ? this.viewerRates : this.runnerRates;
      if (attachment && !rates.take(attachment.socketID)) return sendError(ws, errorFrameOf(ErrorCode.RateLimited, "too many frames: the frame was dropped, slow down"));
      if (attachment?.role === "viewer") await this.onViewerFrame(ws, attachment, message);
      else if (attachment?.role === "runner") this.onRunnerFrame(ws, attachment, message);
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
    if (attachment) (attachment.role === "viewer" ? this.viewerRates : this.runnerRates).forget(attachment.socketID);
  }

  private async onViewerFrame(ws: WebSocket, viewer: ViewerAttachment, message: string | ArrayBuffer): Promise<void> {
    const parsed = parseFrame(ViewerToEdge, message, LIMITS.maxViewerFrameBytes);
    if (!parsed.ok) return sendError(ws, parsed.error);
    const frame = parsed.value;
    switch (frame.type) {
      case "ping":
        return sendToViewer(ws, { type: "pong" });
      case "message":
        return this.viewerCommand(ws, viewer, { kind: "message", text: frame.text });
      case "finish":
      case "cancel":
        return this.viewerCommand(ws, viewer, { kind: frame.type });
      default:
        return unhandledFrame(frame);
    }
  }

  private viewerCommand(ws: WebSocket, viewer: ViewerAttachment, command: UserCommand): void {
    const room = this.state.load()!;
    const result = this.runCommand(room, viewer.user, command);
    if ("code" in result) sendError(ws, errorFrameOf(result.code, result.message, room.task.id));
  }

  private onRunnerFrame(ws: WebSocket, runner: RunnerAttachment, message: string | ArrayBuffer): void {
    const room = this.state.load()!;
    // Any frame from the attached lease holder is a sign of life, even one that is refused.
    if (holds(room.lease, runner.runnerID, runner.epoch) && !isTerminal(room.task.status)) this.state.renew(room.lease);
    const parsed = parseFrame(RunnerToEdgeData, message, LIMITS.maxRunnerFrameBytes);
    if (!parsed.ok) return sendError(ws, { ...parsed.error, taskID: room.task.id });
    const frame = parsed.value;
    switch (frame.type) {
      case "ping":
        return sendToRunner(ws, { type: "pong" });
      case "attach":
        if (this.refuseRunner(ws, runner, frame.taskID, frame.epoch)) return;
        return this.attach(ws, runner, frame.epoch, frame.afterCommandSeq);
      case "events":
        if (this.refuseRunner(ws, runner, frame.taskID, frame.epoch)) return;
        if (runner.epoch !== frame.epoch) {
          return sendError(ws, errorFrameOf(ErrorCode.InvalidFrame, "say attach for this epoch before sending events", room.task.id));
        }
        return this.storeBatch(ws, frame.epoch, frame.events);
      default:
        return unhandledFrame(frame);
    }
  }

  /**
   * Refuses a frame of another task, or of a runner that does not hold the lease under
   * `epoch` (then the socket closes); true when it refused.
   */
  private refuseRunner(ws: WebSocket, runner: RunnerAttachment, taskID: string, epoch: number): boolean {
    const room = this.state.load()!;
    if (taskID !== room.task.id) {
      sendError(ws, errorFrameOf(ErrorCode.NotFound, `this socket is for task ${room.task.id}, not ${taskID}`, room.task.id));
      return true;
    }
    const refused = holderRefusal(room.task.id, room.lease, room.lastEpoch, runner.runnerID, epoch);
    if (!refused) return false;
    sendError(ws, refused);
    closeSocket(ws, refused.code === ErrorCode.StaleEpoch ? CloseCode.Replaced : CloseCode.Revoked, refused.message);
    return true;
  }

  private attach(ws: WebSocket, runner: RunnerAttachment, epoch: number, afterCommandSeq: number): void {
    const room = this.state.load()!;
    const lease = room.lease!;
    this.closeRunners((_, socket) => socket !== ws, CloseCode.Replaced, "replaced by a newer data socket");
    ws.serializeAttachment({ ...runner, epoch } satisfies RunnerAttachment);
    // The runner resends everything after `ackedRseq`, so what was held is not needed.
    this.held.clear();
    if (!lease.attached) this.state.setLease({ ...lease, attached: true });
    sendToRunner(ws, {
      type: "attached",
      taskID: room.task.id,
      epoch,
      ackedRseq: this.store.maxRseq(epoch),
      commands: this.store.commandsAfter(afterCommandSeq),
    });
  }

  private storeBatch(ws: WebSocket, epoch: number, events: RunnerEvent[]): void {
    const room = this.state.load()!;
    const task = room.task;
    const prepared = prepareBatch(task.id, events);
    if (!prepared.ok) return sendError(ws, prepared.error);
    const walk = walkFrames(task.id, [prepared.events, ...this.held.take(epoch)], this.store.maxRseq(epoch), task.status);
    let stop = walk.stop;
    const overflow = !stop && walk.waiting.length > 0 && !this.held.hold(epoch, walk.waiting);
    if (overflow) {
      const first = Math.min(...walk.waiting.map((frame) => frame[0]!.rseq));
      stop = errorFrameOf(ErrorCode.InvalidFrame, `rseq ${first} leaves a gap: the next expected is ${walk.maxRseq + 1}`, task.id);
    }
    if (task.lastSeq + walk.accept.length > CAPS.maxEventsPerTask) {
      const full = `the task's log reached its cap of ${CAPS.maxEventsPerTask} events`;
      sendError(ws, errorFrameOf(ErrorCode.RateLimited, full, task.id));
      return this.endTask("failed", full);
    }
    const change: TaskChange = { status: false, summary: false };
    if (walk.accept.length > 0) {
      this.state.commit(() => {
        this.log.append(
          task,
          walk.accept.map((event) => ({ ts: event.ts, type: event.type, dataJSON: event.dataJSON, epoch, rseq: event.rseq })),
        );
        for (const event of walk.accept) applyRunnerEvent(task, event, change);
        task.updatedAt = new Date().toISOString();
        this.store.saveTask(task);
      });
    }
    // The output gate holds this ack until the transaction above is durable.
    sendToRunner(ws, { type: "ack", taskID: task.id, epoch, rseq: walk.maxRseq });
    if (stop) sendError(ws, stop);
    if (overflow) closeSocket(ws, CloseCode.Resync, "rseq gap: attach again and resend");
    if (change.status && isTerminal(task.status)) this.state.cancelAlarm();
    const budget = walk.accept.some(reachesBudget);
    if (change.status || change.summary || budget) this.state.report(change.status, budget ? "budget" : undefined);
  }

  override async alarm(): Promise<void> {
    const room = this.state.load();
    const lease = room?.lease;
    if (!room || !lease || isTerminal(room.task.status)) return;
    // Pings answered by the auto-response never woke the room: count them as contact.
    for (const ws of this.holderSockets(lease)) {
      const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws);
      if (pinged) lease.expiresAt = Math.max(lease.expiresAt, pinged.getTime() + lease.seconds * 1000);
    }
    if (Date.now() < lease.expiresAt) {
      this.state.setLease(lease);
      this.state.scheduleAlarm(lease.expiresAt);
      return;
    }
    this.markLost(lostReason(lease));
  }

  // ── internals ─────────────────────────────────────────────────────────────

  private markLost(reason: string): void {
    this.endTask("lost", reason);
  }

  /** Ends the task from the edge (its runner went silent, or its log is full); its runner's sockets close for good. */
  private endTask(status: "lost" | "failed", reason: string): void {
    const room = this.state.load()!;
    this.state.commit(() => this.log.setStatus(room.task, status, reason, room.lease ? { runnerID: room.lease.runnerID } : {}));
    this.state.cancelAlarm();
    this.closeRunners(() => true, CloseCode.Gone, `the task is ${status}`);
    this.state.report(true);
  }

  /** Sends a frame to the lease holder's attached data socket, if one is open. */
  private sendToHolder(frame: FrameText<EdgeToRunnerData>): void {
    const lease = this.state.load()?.lease;
    if (!lease) return;
    // A socket closed meanwhile misses it; the runner gets it again at its next attach.
    sendAll(this.holderSockets(lease), frame);
  }

  /** The lease holder's attached data sockets (one, unless a replaced one is still closing). */
  private holderSockets(lease: Lease): WebSocket[] {
    return this.ctx.getWebSockets("runner").filter((ws) => {
      const a = ws.deserializeAttachment() as RunnerAttachment;
      return a.runnerID === lease.runnerID && a.epoch === lease.epoch;
    });
  }

  private closeRunners(match: (a: RunnerAttachment, ws: WebSocket) => boolean, code: CloseCode, reason: string): void {
    for (const ws of this.ctx.getWebSockets("runner")) {
      if (match(ws.deserializeAttachment() as RunnerAttachment, ws)) closeSocket(ws, code, reason);
    }
  }
}
