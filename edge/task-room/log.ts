/**
 * Internal to the TaskRoom: its event log. Appends take the next `seq` inside one
 * transaction; `commit` then sends what the transaction appended to every viewer, the frame
 * serialized once. Both happen in one synchronous turn.
 *
 * A new viewer's replay is paged: each turn of the room sends it at most
 * `CAPS.replayFramesPerTurn` frames, so one viewer of a long log never holds the room. While
 * it is replaying, the live fan-out skips it and the next page reads on from the log (which
 * holds whatever was appended meanwhile); the last page and `replayed` go in one turn, after
 * which the fan-out includes it. So each viewer socket receives each `seq` exactly once.
 */
import { CAPS, CloseCode, LIMITS, type Task, type TaskStatus } from "../../shared/index.ts";
import { eventsFrame, replayFrames } from "./frames.ts";
import { type Attachment, closeSocket, sendAll, sendText, sendToViewer } from "./sockets.ts";
import type { NewEvent, StoredEvent, TaskRoomStore } from "./store.ts";

export class TaskLog {
  /** Events appended by the running transaction, not yet sent to viewers. */
  private pending: StoredEvent[] = [];
  /** Socket ids of viewers whose replay has not reached the end of the log. */
  private readonly replaying = new Set<string>();

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly store: TaskRoomStore,
  ) {}

  /** Runs `fn` as one transaction, then fans out what it appended. On failure nothing is sent. */
  commit(fn: () => void): void {
    try {
      this.ctx.storage.transactionSync(fn);
    } catch (err) {
      this.pending = [];
      throw err;
    }
    if (this.pending.length === 0) return;
    const frame = eventsFrame(this.pending);
    this.pending = [];
    sendAll(this.liveViewers(), frame);
  }

  /** The viewer sockets that take live events: all but those still replaying. */
  private liveViewers(): WebSocket[] {
    const viewers = this.ctx.getWebSockets("viewer");
    if (this.replaying.size === 0) return viewers;
    return viewers.filter((ws) => !this.replaying.has((ws.deserializeAttachment() as Attachment).socketID));
  }

  /** Appends events with the task's next `seq`s (inside `commit`). */
  append(task: Task, events: readonly NewEvent[]): StoredEvent[] {
    const stored = this.store.appendEvents(task.lastSeq + 1, events);
    task.lastSeq += stored.length;
    this.pending.push(...stored);
    return stored;
  }

  /** Appends an event the edge makes, stamped now, and saves the task (inside `commit`). */
  appendEdge(task: Task, type: string, data: Record<string, unknown>): StoredEvent {
    const ts = new Date().toISOString();
    const [stored] = this.append(task, [{ ts, type, dataJSON: JSON.stringify(data) }]);
    task.updatedAt = ts;
    this.store.saveTask(task);
    return stored!;
  }

  /** Sets the task's status and logs it as a `status` event (inside `commit`). */
  setStatus(task: Task, status: TaskStatus, reason: string | null, extra: Record<string, unknown> = {}): void {
    task.status = status;
    task.statusReason = reason;
    this.appendEdge(task, "status", reason === null ? { status, ...extra } : { status, reason, ...extra });
  }

  /**
   * Sends a new viewer every event after `after`, then `replayed`: a page now, the rest in
   * later turns. `task` reads the current record (appends go on meanwhile).
   */
  replay(ws: WebSocket, socketID: string, task: () => Task, after: number): void {
    this.replaying.add(socketID);
    this.replayPage(ws, socketID, task, after);
  }

  private replayPage(ws: WebSocket, socketID: string, task: () => Task, after: number): void {
    let from = after;
    const page = this.store.eventsAfter(from, CAPS.replayFramesPerTurn * LIMITS.replayFrameEvents);
    for (const frame of replayFrames(page)) {
      if (!sendText(ws, frame)) return void this.replaying.delete(socketID);
    }
    from = page.at(-1)?.seq ?? from;
    const now = task();
    if (page.length > 0 && from < now.lastSeq) {
      setTimeout(() => this.nextReplayPage(ws, socketID, task, from), 0);
      return;
    }
    this.replaying.delete(socketID);
    sendToViewer(ws, { type: "replayed", lastSeq: now.lastSeq, status: now.status });
  }

  private nextReplayPage(ws: WebSocket, socketID: string, task: () => Task, after: number): void {
    try {
      this.replayPage(ws, socketID, task, after);
    } catch (err) {
      this.replaying.delete(socketID);
      console.error({ msg: "replay failed", err: String(err) });
      closeSocket(ws, CloseCode.Resync, "replay failed: connect again");
    }
  }
}
