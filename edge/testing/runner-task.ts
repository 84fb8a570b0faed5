/**
 * Internal to the edge's workerd tests: a task in a runner's hands, set up through the Worker
 * as a runner does it. `acceptedTask` registers a runner for the user, connects its control
 * socket, creates a task, waits for its assignment and accepts it; `attachedTask` also opens
 * the task's data socket and attaches at epoch's start (no command seen yet); `runningTask` also
 * reports the task running and waits for the ack.
 */
import { type TestSocket, bearer, connectRunner, createTask, openSocket, registerRunner } from "./edge.ts";

export interface AcceptedTask {
  runner: { id: string; credential: string };
  control: TestSocket;
  task: any;
  assignment: any;
}

/** A new runner of `user`'s, connected, holding a new task it has accepted. */
export async function acceptedTask(user: string): Promise<AcceptedTask> {
  const runner = await registerRunner(user);
  const control = await connectRunner(runner.credential);
  const task = await createTask(user);
  const { assignment } = await control.next("assign");
  control.send({ type: "accept", taskID: task.id, epoch: assignment.epoch });
  return { runner, control, task, assignment };
}

/** As `acceptedTask`, with the task's data socket attached (its `attached` answer received). */
export async function attachedTask(user: string): Promise<AcceptedTask & { data: TestSocket }> {
  const accepted = await acceptedTask(user);
  const { runner, task, assignment } = accepted;
  const data = await openSocket(`/v1/runner/tasks/${task.id}/ws`, bearer(runner.credential));
  data.send({ type: "attach", taskID: task.id, epoch: assignment.epoch, afterCommandSeq: 0 });
  await data.next("attached");
  return { ...accepted, data };
}

/** As `attachedTask`, with the task reported running (rseq 1) and acked. */
export async function runningTask(user: string): Promise<AcceptedTask & { data: TestSocket }> {
  const attached = await attachedTask(user);
  const { data, task, assignment } = attached;
  data.send({ type: "events", taskID: task.id, epoch: assignment.epoch, events: [{ rseq: 1, ts: new Date().toISOString(), type: "status", data: { status: "running" } }] });
  await data.next("ack");
  return attached;
}
