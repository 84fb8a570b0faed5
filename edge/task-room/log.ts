/**
 * Internal to the TaskRoom: its event log. Appends take the next `seq` inside one
 * transaction; `commit` then sends what the transaction appended to every viewer, the frame
 * serialized once. Both happen in one synchronous turn, and so does a viewer's replay, so
 * each viewer socket receives each `seq` exactly once.
 */
import { LIMITS, type Task, type TaskStatus } from "../../shared/index.ts";
import { eventsFrame, replayFrames } from "./frames.ts";
import { sendAll, sendText, sendToViewer } from "./sockets.ts";
import type { NewEvent, StoredEvent, TaskRoomStore } from "./store.ts";

export class TaskLog {
  /** Events appended by the running transaction, not yet sent to viewers. */
  private pending: StoredEvent[] = [];

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
    sendAll(this.ctx.getWebSockets("viewer"), frame);
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

  /** Sends a new viewer every event after `after`, then `replayed`. */
  replay(ws: WebSocket, task: Task, after: number): void {
    let from = after;
    while (from < task.lastSeq) {
      const page = this.store.eventsAfter(from, LIMITS.maxEventsPage);
      if (page.length === 0) break;
      for (const frame of replayFrames(page)) if (!sendText(ws, frame)) return;
      from = page.at(-1)!.seq;
    }
    sendToViewer(ws, { type: "replayed", lastSeq: task.lastSeq, status: task.status });
  }
}
