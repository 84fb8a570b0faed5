/**
 * One task's way into the journal's outbox (internal to task-run.ts). Events are appended in
 * order; when the outbox is at its bound the runner says so loudly and holds further events
 * in memory, in order, until acks make room — it stops taking worker output rather than drop
 * any of it.
 */
import type { Logger } from "pino";
import type { RunnerEventBody } from "../../shared/events.ts";
import { type Journal, OutboxFullError } from "./journal.ts";

interface Pending {
  bodies: RunnerEventBody[];
  wseq?: number;
  final?: boolean;
}

export class TaskOutbox {
  private readonly held: Pending[] = [];

  constructor(
    private readonly journal: Journal,
    private readonly taskID: string,
    private readonly notify: (rseq: number) => void,
    private readonly log: Logger,
  ) {}

  /** Events waiting in memory for room in the outbox. */
  get heldCount(): number {
    return this.held.length;
  }

  append(bodies: RunnerEventBody[], opts: { wseq?: number; final?: boolean } = {}): void {
    if (this.held.length > 0 || !this.write({ bodies, ...opts })) {
      if (this.held.length === 0) {
        this.log.error({ pending: this.journal.pendingCount }, "the outbox is full: worker output is held in memory until the edge acks");
      }
      this.held.push({ bodies, ...opts });
    }
  }

  /** After an ack: moves held events into the outbox while there is room. */
  release(): void {
    while (this.held.length > 0 && this.write(this.held[0]!)) this.held.shift();
  }

  private write(p: Pending): boolean {
    try {
      const events = this.journal.append(this.taskID, p.bodies, p);
      const last = events.at(-1);
      if (last) this.notify(last.rseq);
      return true;
    } catch (err) {
      if (err instanceof OutboxFullError) return false;
      throw err;
    }
  }
}
