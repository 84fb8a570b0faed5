/**
 * The owner's approval of a task's network attempts (internal to task/): in `ask` mode the
 * egress proxy holds an agent-phase attempt the user's rules do not cover, and the task asks
 * its owner with an `approval.requested` event (`kind: "egress"`, subject `host:port`). The
 * edge answers with an `approval` command; an id asked here is answered here, any other goes
 * on to the worker. The runner decides nothing itself: a question stays open until the edge's
 * answer (an expired one comes as no). Questions are held in memory: an attempt held when the
 * runner stops fails with its connection, and the answer that comes later finds no one.
 */
import { randomUUID } from "node:crypto";
import type { RunnerEventBody } from "../../shared/events.ts";
import type { Command, RunnerToWorker } from "../../shared/protocol.ts";

type Waiting = { taskID: string; resolve: (approved: boolean) => void };

export class EgressQuestions {
  private readonly waiting = new Map<string, Waiting>();

  /** Asks the owner about `host:port` for the task; resolves with the answer. */
  ask(taskID: string, host: string, port: number, emit: (bodies: RunnerEventBody[]) => void): Promise<boolean> {
    const approvalID = randomUUID();
    return new Promise<boolean>((resolve) => {
      this.waiting.set(approvalID, { taskID, resolve });
      emit([{ type: "approval.requested", data: { approvalID, kind: "egress", subject: `${host}:${port}`.slice(0, 8000) } }]);
    });
  }

  /** Settles a question asked here; false when the id is not one of them. */
  answer(approvalID: string, approved: boolean): boolean {
    const waiting = this.waiting.get(approvalID);
    if (!waiting) return false;
    this.waiting.delete(approvalID);
    waiting.resolve(approved);
    return true;
  }

  /** The task is over: its held attempts are refused. */
  drop(taskID: string): void {
    for (const [id, waiting] of this.waiting) {
      if (waiting.taskID !== taskID) continue;
      this.waiting.delete(id);
      waiting.resolve(false);
    }
  }
}

/** The edge's answer: to the egress proxy when the runner asked, else to the worker, which asked. */
export function deliverAnswer(command: Extract<Command, { kind: "approval" }>, questions: EgressQuestions | undefined, worker: { send(line: RunnerToWorker): void }): void {
  if (questions?.answer(command.approvalID, command.approved)) return;
  worker.send({ type: "approval", approvalID: command.approvalID, approved: command.approved, ...(command.text ? { text: command.text } : {}) });
}
