/**
 * One task's outbox (internal to task/): events go into the journal in order, through the
 * task's record, and the task's data channel reads them back from here (`Outbox` in
 * ports.ts). When the journal cannot take them, because its outbox is at its bound (acks make
 * room) or its disk is full (`JournalSpace` retries until there is room), the runner holds
 * further events in memory, in order, and says so. That memory is bounded too: at `heldMax`
 * held events the outbox pauses the worker's output (backpressure: the worker's writes block)
 * and resumes it once every held event is in the journal. Nothing is dropped; what is held
 * past `heldMax` is at most what one read of the worker's output carried, and the runner's own
 * few events (statuses, the diff).
 */
import type { Logger } from "pino";
import type { RunnerEventBody } from "../../shared/events.ts";
import type { RunnerEvent } from "../../shared/protocol.ts";
import type { Outbox } from "../ports.ts";
import type { JournalSpace } from "./journal-space.ts";
import { OutboxFullError } from "./journal.ts";
import type { TaskRecord } from "./task-record.ts";

/** Events held in memory per task before its worker's output is paused. */
export const HELD_MAX = 1000;

/** How the outbox slows the worker's output down. */
export interface OutputFlow {
  pause(): void;
  resume(): void;
}

interface Pending {
  bodies: RunnerEventBody[];
  wseq?: number;
  final?: boolean;
}

export class TaskOutbox implements Outbox {
  private readonly held: Pending[] = [];
  private paused = false;
  private waitingForAcks = false;
  private readonly key: string;

  constructor(
    private readonly record: TaskRecord,
    /** Called with the last rseq each time events reach the journal. */
    private readonly notify: (rseq: number) => void,
    private readonly log: Logger,
    private readonly flow: OutputFlow,
    private readonly space: JournalSpace,
    private readonly heldMax = HELD_MAX,
  ) {
    this.key = `outbox:${record.taskID}`;
  }

  /** Events waiting in memory for room in the outbox. */
  get heldCount(): number {
    return this.held.length;
  }

  get lastCommandSeq(): number {
    return this.record.lastCommandSeq;
  }

  append(bodies: RunnerEventBody[], opts: { wseq?: number; final?: boolean } = {}): void {
    this.held.push({ bodies, ...opts });
    this.space.write(this.key, () => this.moveHeld());
    if (this.held.length >= this.heldMax && !this.paused) {
      this.paused = true;
      this.log.error({ held: this.held.length }, "the outbox and its memory are full: the worker's output is paused until its events reach the journal");
      this.flow.pause();
    }
  }

  unacked(afterRseq: number, limit: number): RunnerEvent[] {
    return this.record.unacked(afterRseq, limit);
  }

  /** Drops acked events, then moves held events into the outbox while there is room. */
  ack(rseq: number): number {
    const n = this.record.ack(rseq);
    this.space.write(this.key, () => this.moveHeld());
    return n;
  }

  /** Writes held events to the journal, oldest first, until none is left or the outbox is full; a full disk throws. */
  private moveHeld(): void {
    while (this.held.length > 0) {
      const p = this.held[0]!;
      let last: RunnerEvent | undefined;
      try {
        last = this.record.append(p.bodies, p).at(-1);
      } catch (err) {
        if (!(err instanceof OutboxFullError)) throw err;
        if (!this.waitingForAcks) this.log.error("the outbox is full: worker output is held in memory until the edge acks");
        this.waitingForAcks = true;
        return;
      }
      this.held.shift();
      if (last) this.notify(last.rseq);
    }
    this.waitingForAcks = false;
    if (this.paused) {
      this.paused = false;
      this.log.info("every held event is in the journal: the worker's output is read on");
      this.flow.resume();
    }
  }
}
