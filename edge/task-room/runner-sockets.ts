/**
 * Internal to edge/task-room/: the runner's data sockets. The lease holder's socket says
 * `attach`, then sends `events` batches tagged `(epoch, rseq)`; each batch is one
 * transaction and its cumulative `ack` follows the write. Repeats are dropped and acked, a
 * batch ahead of a gap waits (bounded, in memory) for the gap to fill, a frame of an older
 * epoch gets `stale_epoch` and its socket closes. A batch that would pass the task's event
 * cap ends the task `failed` through the room's `endTask`. An `approval.requested` opens a
 * question in the same transaction (approvals.ts). It also finds the holder's
 * sockets (for commands and the lease alarm) and closes runner sockets for the room.
 */
import {
  CAPS,
  CloseCode,
  ErrorCode,
  LIMITS,
  RunnerToEdgeData,
  errorFrameOf,
  isTerminal,
  parseFrame,
  unhandledFrame,
  type EdgeToRunnerData,
  type RunnerEvent,
} from "../../shared/index.ts";
import { reachesBudget } from "../push/notice.ts";
import { SocketRates } from "../rate-limit.ts";
import type { ApprovalEffects } from "./approvals.ts";
import { HeldFrames, applyRunnerEvent, prepareBatch, walkFrames, type TaskChange } from "./batch.ts";
import type { FrameText } from "./frames.ts";
import { holderRefusal, holds } from "./lease.ts";
import type { RoomState } from "./room-state.ts";
import { closeSocket, sendAll, sendError, sendToRunner, type RunnerAttachment } from "./sockets.ts";
import type { Lease } from "./store.ts";

export class RunnerSockets {
  /** Frames per second of each data socket, in memory: a hibernation starts them afresh. */
  readonly rates = new SocketRates(CAPS.runnerFramesPerSecond);
  /** Runner events that arrived beyond a gap; memory only, the runner resends after attach. */
  private readonly held = new HeldFrames();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly state: RoomState,
    /** Ends the task from the edge (here: its log is full). */
    private readonly endTask: (status: "failed", reason: string) => void,
  ) {}

  onFrame(ws: WebSocket, runner: RunnerAttachment, message: string | ArrayBuffer): void {
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
        if (this.refuse(ws, runner, frame.taskID, frame.epoch)) return;
        return this.attach(ws, runner, frame.epoch, frame.afterCommandSeq);
      case "events":
        if (this.refuse(ws, runner, frame.taskID, frame.epoch)) return;
        if (runner.epoch !== frame.epoch) {
          return sendError(ws, errorFrameOf(ErrorCode.InvalidFrame, "say attach for this epoch before sending events", room.task.id));
        }
        return this.storeBatch(ws, frame.epoch, frame.events);
      default:
        return unhandledFrame(frame);
    }
  }

  /** Sends a frame to the lease holder's attached data socket, if one is open. */
  sendToHolder(frame: FrameText<EdgeToRunnerData>): void {
    const lease = this.state.load()?.lease;
    if (!lease) return;
    // A socket closed meanwhile misses it; the runner gets it again at its next attach.
    sendAll(this.holderSockets(lease), frame);
  }

  /** The lease holder's attached data sockets (one, unless a replaced one is still closing). */
  holderSockets(lease: Lease): WebSocket[] {
    return this.ctx.getWebSockets("runner").filter((ws) => {
      const a = ws.deserializeAttachment() as RunnerAttachment;
      return a.runnerID === lease.runnerID && a.epoch === lease.epoch;
    });
  }

  close(match: (a: RunnerAttachment, ws: WebSocket) => boolean, code: CloseCode, reason: string): void {
    for (const ws of this.ctx.getWebSockets("runner")) {
      if (match(ws.deserializeAttachment() as RunnerAttachment, ws)) closeSocket(ws, code, reason);
    }
  }

  /**
   * Refuses a frame of another task, or of a runner that does not hold the lease under
   * `epoch` (then the socket closes); true when it refused.
   */
  private refuse(ws: WebSocket, runner: RunnerAttachment, taskID: string, epoch: number): boolean {
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
    this.close((_, socket) => socket !== ws, CloseCode.Replaced, "replaced by a newer data socket");
    ws.serializeAttachment({ ...runner, epoch } satisfies RunnerAttachment);
    // The runner resends everything after `ackedRseq`, so what was held is not needed.
    this.held.clear();
    if (!lease.attached) this.state.setLease({ ...lease, attached: true });
    sendToRunner(ws, {
      type: "attached",
      taskID: room.task.id,
      epoch,
      ackedRseq: this.state.store.maxRseq(epoch),
      commands: this.state.store.commandsAfter(afterCommandSeq),
    });
  }

  private storeBatch(ws: WebSocket, epoch: number, events: RunnerEvent[]): void {
    const { store, log } = this.state;
    const task = this.state.load()!.task;
    const prepared = prepareBatch(task.id, events);
    if (!prepared.ok) return sendError(ws, prepared.error);
    const walk = walkFrames(task.id, [prepared.events, ...this.held.take(epoch)], store.maxRseq(epoch), task.status);
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
    let approvals: ApprovalEffects | undefined;
    if (walk.accept.length > 0) {
      this.state.commit(() => {
        log.append(
          task,
          walk.accept.map((event) => ({ ts: event.ts, type: event.type, dataJSON: event.dataJSON, epoch, rseq: event.rseq })),
        );
        for (const event of walk.accept) applyRunnerEvent(task, event, change);
        task.updatedAt = new Date().toISOString();
        // One row written per event at a human pace: the record is saved only when more than its log moved.
        if (change.status || change.summary) store.saveTask(task);
        if (!isTerminal(task.status)) approvals = this.state.approvals.open(task, walk.accept);
        else this.state.approvals.settle(task);
      });
    }
    // The output gate holds this ack until the transaction above is durable.
    sendToRunner(ws, { type: "ack", taskID: task.id, epoch, rseq: walk.maxRseq });
    if (stop) sendError(ws, stop);
    if (overflow) closeSocket(ws, CloseCode.Resync, "rseq gap: attach again and resend");
    if (change.status && isTerminal(task.status)) this.state.cancelAlarm();
    const budget = walk.accept.some(reachesBudget);
    if (approvals) this.afterApprovals(approvals);
    const notice = budget ? "budget" : approvals?.opened ? "approval" : undefined;
    if (change.status || change.summary || notice || approvals?.commands.length) this.state.report(change.status || !!approvals?.commands.length, notice);
  }

  /** Answers the rule covered at once, and sets the alarm for the questions left open. */
  private afterApprovals(effects: ApprovalEffects): void {
    for (const command of effects.commands) this.sendToHolder(command);
    const lease = this.state.load()?.lease;
    if (effects.opened && lease) this.state.scheduleAlarm(lease.expiresAt);
  }
}
