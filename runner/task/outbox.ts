/**
 * One task's outbox (internal to task/): events go into the journal in order, through the
 * task's record, and the task's data channel reads them back from here (`Outbox` in
 * ports.ts). When the journal's outbox is at its bound the runner says so loudly and holds
 * further events in memory, in order, until acks make room. That memory is bounded too: at
 * `heldMax` held events the outbox pauses the worker's output (backpressure: the worker's
 * writes block) and resumes it once acks have moved every held event to the journal. Nothing
 * is dropped; what is held past `heldMax` is at most what one read of the worker's output
 * carried, and the runner's own few events (statuses, the diff).
 */
import type { Logger } from "pino";
import type { RunnerEventBody } from "../../shared/events.ts";
import type { RunnerEvent } from "../../shared/protocol.ts";
import type { Outbox } from "../ports.ts";
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

  constructor(
    private readonly record: TaskRecord,
    /** Called with the last rseq each time events reach the journal. */
    private readonly notify: (rseq: number) => void,
    private readonly log: Logger,
    private readonly flow: OutputFlow,
    private readonly heldMax = HELD_MAX,
  ) {}

  /** Events waiting in memory for room in the outbox. */
  get heldCount(): number {
    return this.held.length;
  }

  get lastCommandSeq(): number {
    return this.record.lastCommandSeq;
  }

  append(bodies: RunnerEventBody[], opts: { wseq?: number; final?: boolean } = {}): void {
    if (this.held.length > 0 || !this.write({ bodies, ...opts })) {
      if (this.held.length === 0) this.log.error("the outbox is full: worker output is held in memory until the edge acks");
      this.held.push({ bodies, ...opts });
      if (this.held.length >= this.heldMax && !this.paused) {
        this.paused = true;
        this.log.error({ held: this.held.length }, "the outbox and its memory are full: the worker's output is paused until the edge acks");
        this.flow.pause();
      }
    }
  }

  unacked(afterRseq: number, limit: number): RunnerEvent[] {
    return this.record.unacked(afterRseq, limit);
  }

  /** Drops acked events, then moves held events into the outbox while there is room. */
  ack(rseq: number): number {
    const n = this.record.ack(rseq);
    while (this.held.length > 0 && this.write(this.held[0]!)) this.held.shift();
    if (this.paused && this.held.length === 0) {
      this.paused = false;
      this.log.info("the outbox has room again: the worker's output is read on");
      this.flow.resume();
    }
    return n;
  }

  private write(p: Pending): boolean {
    try {
      const last = this.record.append(p.bodies, p).at(-1);
      if (last) this.notify(last.rseq);
      return true;
    } catch (err) {
      if (err instanceof OutboxFullError) return false;
      throw err;
    }
  }
}
