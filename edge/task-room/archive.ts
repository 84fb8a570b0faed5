/**
 * Internal to the TaskRoom: what keeps a task's data beyond its run — the log read out for
 * an export, an export written back in (import), and the task deleted whole.
 *
 * - Delete (`purge`): every socket closes (runners `Revoked`, viewers `Gone`), the task's
 *   artifacts leave R2, the alarm goes, and `deleteAll` wipes the room's SQLite; the empty
 *   tables are made again, so the object answers "no such task" from then on.
 * - Import, in three calls: `importStart` (refused with `conflict` while a task lives here,
 *   unless it is this account's and `replace`) gives a token; `importEvents` stages pages of
 *   the exported log with their own `seq` and `ts`, apart from any task the room holds;
 *   `importFinish` checks the log is whole, and only then is a replaced task's data deleted
 *   (sockets, artifacts, alarm) and the staged log and the record take its place in one
 *   transaction. An import cut short changes nothing. A record whose status is not terminal
 *   is stored as `lost`, with a `status` event saying why, and is never dispatched.
 */
import {
  ErrorCode,
  LIMITS,
  errorBody,
  isTerminal,
  type ArtifactEntry,
  type ErrorBody,
  type Task,
} from "../../shared/index.ts";
import { artifactPrefix, deleteArtifacts } from "../routes/index.ts";
import type { RoomState } from "./room-state.ts";
import type { StoredEvent } from "./store.ts";

/** An exported event on its way back into a log. */
export type ImportedEvent = { seq: number; ts: string; type: string; dataJSON: string };

type PendingImport = { token: string; accountID: string; taskID: string; replace: boolean };

export class RoomArchive {
  /** The import under way, in memory only: an import the object outlived starts again. */
  private pending: PendingImport | null = null;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly state: RoomState,
    private readonly closeAll: (reason: string) => void,
  ) {}

  /** Stored events with `seq` in (after, upTo], at most `limit`; null for another account. */
  eventTexts(accountID: string, after: number, upTo: number, limit: number): StoredEvent[] | null {
    if (!this.state.of(accountID)) return null;
    const count = Math.min(Math.max(limit, 1), LIMITS.maxEventsPage);
    return this.state.store.eventsAfter(after, count).filter((e) => e.seq <= upTo);
  }

  /** Deletes the task and every byte of it; false when it is not this account's. */
  async purge(accountID: string, reason: string): Promise<boolean> {
    const room = this.state.of(accountID);
    if (!room) return false;
    this.closeAll(reason);
    // Artifacts first: should that fail, the room still knows the task and a retry finds it.
    await deleteArtifacts(this.env.ARTIFACTS, artifactPrefix(accountID, room.task.id));
    await this.wipe();
    return true;
  }

  importStart(accountID: string, taskID: string, replace: boolean): { token: string } | ErrorBody {
    const room = this.state.load();
    if (room && (!replace || room.accountID !== accountID)) {
      return errorBody(ErrorCode.Conflict, `task ${taskID} already exists here (import with ?replace=true to replace it)`);
    }
    this.state.store.clearStaged();
    this.pending = { token: crypto.randomUUID(), accountID, taskID, replace };
    return { token: this.pending.token };
  }

  /** Stages the next page of the exported log; its `seq`s must follow on without a gap. */
  importEvents(token: string, events: readonly ImportedEvent[]): ErrorBody | null {
    if (this.pending?.token !== token) return notCurrent();
    const first = this.state.store.maxStagedSeq() + 1;
    const gap = events.findIndex((e, i) => e.seq !== first + i);
    if (gap >= 0) return errorBody(ErrorCode.InvalidBody, `event seq ${events[gap]!.seq} does not follow on: expected ${first + gap}`);
    this.state.store.stageEvents(events);
    return null;
  }

  /** Puts the staged log and the record in place (and the artifacts it may take back); the task is visible from now on. */
  async importFinish(token: string, task: Task, artifacts: readonly ArtifactEntry[]): Promise<Task | ErrorBody> {
    const pending = this.pending;
    if (pending?.token !== token || pending.taskID !== task.id) return notCurrent();
    const last = this.state.store.maxStagedSeq();
    if (last !== task.lastSeq) return errorBody(ErrorCode.InvalidBody, `the task says lastSeq ${task.lastSeq} but the export holds events up to ${last}`);
    const old = this.state.load();
    if (old) {
      if (!pending.replace || old.accountID !== pending.accountID) return notCurrent();
      this.closeAll("replaced by an import");
      await deleteArtifacts(this.env.ARTIFACTS, artifactPrefix(old.accountID, old.task.id));
      await this.ctx.storage.deleteAlarm();
      // Another import may have started while this one waited.
      if (this.pending?.token !== token) return notCurrent();
    }
    const record = { accountID: pending.accountID, task: structuredClone(task), lease: null, lastEpoch: 0 };
    this.state.commit(() => {
      this.state.store.takeStaged();
      this.state.adopt(record);
      this.state.store.saveManifest(artifacts);
      if (!isTerminal(task.status)) {
        this.state.log.setStatus(record.task, "lost", `imported from an export taken while the task was ${task.status}; an imported task never runs`);
      }
    });
    this.pending = null;
    return record.task;
  }

  /** The manifest entry an upload of an imported task's artifact must match. */
  manifestEntry(accountID: string, name: string): ArtifactEntry | null {
    return this.state.of(accountID) ? this.state.store.manifestEntry(name) : null;
  }

  private async wipe(): Promise<void> {
    this.pending = null;
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.state.forget();
  }
}

function notCurrent(): ErrorBody {
  return errorBody(ErrorCode.Conflict, "this import is no longer current; start it again");
}
