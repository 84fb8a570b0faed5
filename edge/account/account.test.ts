import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LEASE_SECONDS } from "../../shared/index.ts";
import { type TestSocket, accountStub, bearer, call, connectRunner, createTask, openSocket, registerRunner, unique, userToken, waitFor } from "../testing/edge.ts";
import { userAccountID } from "../auth/index.ts";
import { AccountStore, type TaskRow } from "./store.ts";

async function newAccount(): Promise<{ accountID: string; user: string }> {
  const sub = unique("acct");
  return { accountID: userAccountID(sub), user: await userToken({ sub }) };
}

async function taskOf(user: string, id: string): Promise<any> {
  return ((await (await call(`/v1/tasks/${id}`, { headers: bearer(user) })).json()) as any).task;
}

async function indexOf(user: string): Promise<any[]> {
  return ((await (await call("/v1/tasks", { headers: bearer(user) })).json()) as any).tasks;
}

const assigns = (ws: TestSocket) => ws.frames.filter((f) => f.type === "assign").map((f) => f.assignment);
/** The revokes a runner got, as `taskID@epoch`, sorted. */
const revokes = (ws: TestSocket) => ws.frames.filter((f) => f.type === "revoke").map((f) => `${f.taskID}@${f.epoch}`).sort();

/** The Account's index row of a task, with its dispatch state. */
async function rowOf(accountID: string, taskID: string): Promise<TaskRow | null> {
  return runInDurableObject(accountStub(accountID), (_i, state) => new AccountStore(state.storage.sql).getTask(taskID));
}

/** Waits until the Account has handled a runner's `accept` of the task: recorded, or answered with a revoke. */
async function acceptHandled(accountID: string, control: TestSocket, taskID: string): Promise<void> {
  await waitFor(
    () => rowOf(accountID, taskID),
    (row) => row?.accepted === true || control.frames.some((f) => f.type === "revoke" && f.taskID === taskID),
  );
}

/** Makes a runner look silent for a minute (its row and its socket's last sign of life), so its next heartbeat brings it back (and dispatches). */
async function silence(accountID: string): Promise<void> {
  await runInDurableObject(accountStub(accountID), (_i, state) => {
    const seenAt = Date.now() - 61_000;
    state.storage.sql.exec("UPDATE runners SET last_seen_at = ?", new Date(seenAt).toISOString());
    for (const ws of state.getWebSockets()) ws.serializeAttachment({ ...ws.deserializeAttachment(), seenAt });
  });
}

/** A runner that accepts its assignment, attaches its data socket and reports a status. */
async function runTo(credential: string, control: TestSocket, assignment: any, status: string): Promise<TestSocket> {
  control.send({ type: "accept", taskID: assignment.task.id, epoch: assignment.epoch });
  const data = await openSocket(`/v1/runner/tasks/${assignment.task.id}/ws`, bearer(credential));
  data.send({ type: "attach", taskID: assignment.task.id, epoch: assignment.epoch, afterCommandSeq: 0 });
  await data.next("attached");
  data.send({ type: "events", taskID: assignment.task.id, epoch: assignment.epoch, events: [{ rseq: 1, ts: new Date().toISOString(), type: "status", data: { status } }] });
  await data.next("ack");
  return data;
}

describe("dispatch", () => {
  it("assigns a new task to the one online runner, under a lease, and marks it assigned", async () => {
    const { accountID, user } = await newAccount();
    const runner = await registerRunner(user);
    const control = await connectRunner(runner.credential);
    const task = await createTask(user);
    const assignment = (await control.next("assign")).assignment;
    expect(assignment).toMatchObject({ epoch: 1, leaseSeconds: LEASE_SECONDS, task: { id: task.id, status: "assigned", runnerID: runner.id, prompt: task.prompt } });
    expect(await taskOf(user, task.id)).toMatchObject({ status: "assigned", runnerID: runner.id });
    expect((await indexOf(user))[0]).toMatchObject({ id: task.id, status: "assigned", runnerID: runner.id });
    control.send({ type: "accept", taskID: task.id, epoch: 1 });
    await acceptHandled(accountID, control, task.id);
    expect(await rowOf(accountID, task.id)).toMatchObject({ accepted: true, acceptDeadline: null });
    expect(revokes(control)).toEqual([]);
    control.close();
  });

  it("queues while no runner is online and dispatches when one says hello", async () => {
    const { user } = await newAccount();
    const runner = await registerRunner(user);
    const task = await createTask(user);
    expect((await taskOf(user, task.id)).status).toBe("queued");
    const control = await connectRunner(runner.credential);
    expect((await control.next("assign")).assignment.task.id).toBe(task.id);
    control.close();
  });

  it("spreads tasks over two runners, never past capacity, and fills a freed slot", async () => {
    const { user } = await newAccount();
    const a = await registerRunner(user);
    const b = await registerRunner(user);
    const ca = await connectRunner(a.credential, { capacity: 1 });
    const cb = await connectRunner(b.credential, { capacity: 1 });
    const t1 = await createTask(user);
    const t2 = await createTask(user);
    const t3 = await createTask(user);
    await ca.next("assign");
    await cb.next("assign");
    // Every dispatch ran before createTask answered; the fences let all it sent arrive.
    await ca.fence();
    await cb.fence();
    expect(assigns(ca)).toHaveLength(1);
    expect(assigns(cb)).toHaveLength(1);
    expect([assigns(ca)[0].task.id, assigns(cb)[0].task.id].sort()).toEqual([t1.id, t2.id].sort());
    expect((await taskOf(user, t3.id)).status).toBe("queued");

    const done = await runTo(a.credential, ca, assigns(ca)[0], "succeeded");
    await ca.until((f) => f.filter((x) => x.type === "assign").length === 2);
    expect(assigns(ca)[1].task.id).toBe(t3.id);
    expect(assigns(cb)).toHaveLength(1);
    const index = await indexOf(user);
    expect(index.find((t) => t.id === assigns(ca)[0].task.id).status).toBe("succeeded");
    done.close();
    ca.close();
    cb.close();
  });

  it("gives a runner with capacity 2 two tasks and holds the third", async () => {
    const { user } = await newAccount();
    const r = await registerRunner(user);
    const control = await connectRunner(r.credential, { capacity: 2 });
    const tasks = [await createTask(user), await createTask(user), await createTask(user)];
    await control.until((f) => f.filter((x) => x.type === "assign").length === 2);
    await control.fence();
    expect(assigns(control).map((x) => x.task.id)).toEqual([tasks[0].id, tasks[1].id]);
    expect((await taskOf(user, tasks[2].id)).status).toBe("queued");
    const listed = ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners[0];
    expect(listed.runningTasks.sort()).toEqual([tasks[0].id, tasks[1].id].sort());
    control.close();
  });

  it("matches labels: a task goes only to a runner that has all of them", async () => {
    const { user } = await newAccount();
    const plain = await registerRunner(user);
    const gpu = await registerRunner(user);
    const cp = await connectRunner(plain.credential, { labels: ["linux"], capacity: 4 });
    const cg = await connectRunner(gpu.credential, { labels: ["linux", "gpu"], capacity: 4 });
    const task = await createTask(user, { labels: ["gpu", "linux"] });
    expect((await cg.next("assign")).assignment.task.id).toBe(task.id);
    const unmatched = await createTask(user, { labels: ["arm64"] });
    await cp.fence();
    await cg.fence();
    expect(assigns(cp)).toHaveLength(0);
    expect(assigns(cg)).toHaveLength(1);
    expect((await taskOf(user, unmatched.id)).status).toBe("queued");
    cp.close();
    cg.close();
  });

  it("requeues an assignment not accepted in time (alarm), revokes it and assigns again with a new epoch", async () => {
    const { accountID, user } = await newAccount();
    const r = await registerRunner(user);
    const control = await connectRunner(r.credential);
    const task = await createTask(user);
    await control.next("assign");
    const stub = accountStub(accountID);
    // The alarm before the deadline changes nothing.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await control.fence();
    expect(assigns(control)).toHaveLength(1);
    expect(revokes(control)).toEqual([]);
    // Fifteen seconds pass without an accept.
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE tasks SET accept_deadline = ? WHERE id = ?", Date.now() - 1, task.id);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await control.until((f) => f.filter((x) => x.type === "assign").length === 2);
    expect(revokes(control)).toEqual([`${task.id}@1`]);
    expect(assigns(control)[1]).toMatchObject({ epoch: 2, task: { id: task.id } });
    const events = ((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(user) })).json()) as any).events;
    expect(events.filter((e: any) => e.type === "status").map((e: any) => e.data.status)).toEqual(["queued", "assigned", "queued", "assigned"]);
    expect(events[2].data.reason).toMatch(/did not accept/);
    control.close();
  });

  it("hands a rejected task to another runner that fits, with a new epoch", async () => {
    const { user } = await newAccount();
    const a = await registerRunner(user);
    const b = await registerRunner(user);
    const ca = await connectRunner(a.credential);
    const cb = await connectRunner(b.credential);
    const task = await createTask(user);
    // Either runner may get it first; wait until one has, then let both sockets catch up.
    await waitFor(async () => assigns(ca).length + assigns(cb).length, (n) => n > 0);
    await ca.fence();
    await cb.fence();
    expect(assigns(ca).length + assigns(cb).length).toBe(1);
    const [first, second] = assigns(ca).length === 1 ? [ca, cb] : [cb, ca];
    const assignment = assigns(first)[0];
    expect(assignment).toMatchObject({ epoch: 1, task: { id: task.id } });
    first.send({ type: "reject", taskID: task.id, epoch: assignment.epoch, reason: "disk full" });
    expect((await second.next("assign")).assignment).toMatchObject({ epoch: 2, task: { id: task.id } });
    await first.fence();
    expect(assigns(first)).toHaveLength(1);
    // A runner that rejected is not told to drop what it never took.
    expect(revokes(first)).toEqual([]);
    ca.close();
    cb.close();
  });

  it("never hands a leased task to a second runner: an attached runner keeps it past the accept deadline", async () => {
    const { accountID, user } = await newAccount();
    const a = await registerRunner(user);
    const ca = await connectRunner(a.credential);
    const task = await createTask(user);
    const assignment = (await ca.next("assign")).assignment;
    // The runner attaches and works, but its accept frame was lost.
    const data = await openSocket(`/v1/runner/tasks/${task.id}/ws`, bearer(a.credential));
    data.send({ type: "attach", taskID: task.id, epoch: assignment.epoch, afterCommandSeq: 0 });
    await data.next("attached");
    const b = await registerRunner(user);
    const cb = await connectRunner(b.credential);
    const stub = accountStub(accountID);
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE tasks SET accept_deadline = ? WHERE id = ?", Date.now() - 1, task.id);
    });
    await runDurableObjectAlarm(stub);
    await cb.fence();
    await ca.fence();
    expect(assigns(cb)).toHaveLength(0);
    expect(revokes(ca)).toEqual([]);
    expect(await taskOf(user, task.id)).toMatchObject({ status: "assigned", runnerID: a.id });
    data.close();
    ca.close();
    cb.close();
  });

  it("revokes an outstanding assignment when the task is cancelled, and frees the slot", async () => {
    const { user } = await newAccount();
    const r = await registerRunner(user);
    const control = await connectRunner(r.credential);
    const t1 = await createTask(user);
    await control.next("assign");
    const t2 = await createTask(user);
    expect((await call(`/v1/tasks/${t1.id}/cancel`, { method: "POST", headers: bearer(user) })).status).toBe(202);
    expect(await control.next("revoke")).toMatchObject({ taskID: t1.id, epoch: 1 });
    await control.until((f) => f.filter((x) => x.type === "assign").length === 2);
    expect(assigns(control)[1].task.id).toBe(t2.id);
    control.close();
  });

  it("renews held leases on heartbeat and revokes what the runner may not hold", async () => {
    const { accountID, user } = await newAccount();
    const r = await registerRunner(user);
    const control = await connectRunner(r.credential, { capacity: 2 });
    const task = await createTask(user);
    const assignment = (await control.next("assign")).assignment;
    control.send({ type: "accept", taskID: task.id, epoch: assignment.epoch });
    await acceptHandled(accountID, control, task.id);
    // The runner looks silent and a second task waits: the heartbeat that brings the runner
    // back dispatches it only after its leases are renewed, so that assign comes after any revoke.
    await silence(accountID);
    const waiting = await createTask(user);
    const seen = control.frames.length;
    control.send({ type: "heartbeat", tasks: [{ taskID: task.id, epoch: assignment.epoch }] });
    expect((await control.next("assign", seen)).assignment.task.id).toBe(waiting.id);
    expect(revokes(control)).toEqual([]);

    control.send({ type: "heartbeat", tasks: [{ taskID: task.id, epoch: 7 }, { taskID: "tsk_ffffffffffffffffffff", epoch: 1 }, { taskID: "junk", epoch: 1 }] });
    await control.until((f) => f.filter((x) => x.type === "revoke").length === 3);
    expect(revokes(control)).toEqual([`${task.id}@7`, "junk@1", "tsk_ffffffffffffffffffff@1"].sort());
    control.send({ type: "accept", taskID: task.id, epoch: 9 });
    await control.until((f) => f.filter((x) => x.type === "revoke").length === 4);
    expect(control.frames.filter((f) => f.type === "revoke").at(-1)).toMatchObject({ taskID: task.id, epoch: 9 });
    control.close();
  });

  it("keeps the leases a reconnecting runner names in hello, and revokes the rest", async () => {
    const { accountID, user } = await newAccount();
    const r = await registerRunner(user);
    const first = await connectRunner(r.credential);
    const task = await createTask(user);
    const assignment = (await first.next("assign")).assignment;
    first.send({ type: "accept", taskID: task.id, epoch: assignment.epoch });
    await acceptHandled(accountID, first, task.id);
    first.close();
    const waiting = await createTask(user);
    // The hello dispatches (a second slot, a waiting task) only after it has renewed the
    // named leases, so that assign comes after any revoke.
    const again = await connectRunner(r.credential, { capacity: 2, tasks: [{ taskID: task.id, epoch: assignment.epoch }, { taskID: "tsk_eeeeeeeeeeeeeeeeeeee", epoch: 3 }] });
    expect((await again.next("assign")).assignment.task.id).toBe(waiting.id);
    expect(revokes(again)).toEqual(["tsk_eeeeeeeeeeeeeeeeeeee@3"]);
    expect(assigns(again).map((a) => a.task.id)).toEqual([waiting.id]);
    expect(await taskOf(user, task.id)).toMatchObject({ status: "assigned", runnerID: r.id });
    again.close();
  });

  it("keeps another account's runner and tasks apart", async () => {
    const one = await newAccount();
    const two = await newAccount();
    const r = await registerRunner(one.user);
    const control = await connectRunner(r.credential);
    const foreign = await createTask(two.user);
    await control.fence();
    expect(assigns(control)).toHaveLength(0);
    const ws = await call(`/v1/runner/tasks/${foreign.id}/ws`, { headers: bearer(r.credential, { upgrade: "websocket" }) });
    expect(ws.status).toBe(404);
    const put = await call(`/v1/runner/tasks/${foreign.id}/artifacts/diff.patch?epoch=1`, { method: "PUT", headers: bearer(r.credential), body: "x" });
    expect(put.status).toBe(404);
    control.close();
  });
});

describe("control sockets", () => {
  it("A second control connection replaces the first with 4409", async () => {
    const { user } = await newAccount();
    const r = await registerRunner(user);
    const first = await connectRunner(r.credential);
    const second = await connectRunner(r.credential);
    expect(await first.waitClosed()).toMatchObject({ code: 4409 });
    expect(second.closed).toBeNull();
    // The newer connection is the one dispatch uses.
    const task = await createTask(user);
    expect((await second.next("assign")).assignment.task.id).toBe(task.id);
    expect(assigns(first)).toEqual([]);
    second.close();
  });
});

describe("deleting a runner", () => {
  it("Deleting a runner puts its unaccepted assignments back in the queue", async () => {
    const { user } = await newAccount();
    const doomed = await registerRunner(user);
    const cd = await connectRunner(doomed.credential);
    const task = await createTask(user);
    expect((await cd.next("assign")).assignment).toMatchObject({ epoch: 1, task: { id: task.id } });
    // Another runner comes online only now, so the first assignment went to the doomed one.
    const other = await registerRunner(user);
    const co = await connectRunner(other.credential);
    expect((await call(`/v1/runners/${doomed.id}`, { method: "DELETE", headers: bearer(user) })).status).toBe(204);
    expect((await co.next("assign")).assignment).toMatchObject({ epoch: 2, task: { id: task.id } });
    const events = ((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(user) })).json()) as any).events;
    const statuses = events.filter((e: any) => e.type === "status").map((e: any) => [e.data.status, e.data.reason ?? null]);
    expect(statuses).toEqual([
      ["queued", null],
      ["assigned", null],
      ["queued", `runner ${doomed.id} was deleted`],
      ["assigned", null],
    ]);
    expect(await taskOf(user, task.id)).toMatchObject({ status: "assigned", runnerID: other.id });
    expect((await cd.waitClosed()).code).toBe(4403);
    co.close();
  });
});

describe("a long queue", () => {
  it("looks past a full page of tasks no runner can take", async () => {
    const { accountID, user } = await newAccount();
    const stub = accountStub(accountID);
    const template = await createTask(user, { labels: ["nowhere"] });
    // 120 more rows no runner can take, all older than any task created from here on.
    await runInDurableObject(stub, (_i, state) => {
      const store = new AccountStore(state.storage.sql);
      for (let i = 0; i < 120; i++) {
        const id = `tsk_${i.toString(16).padStart(20, "0")}`;
        store.insertTask({ ...template, id, createdAt: new Date(Date.parse(template.createdAt) - i - 1).toISOString() });
      }
    });
    const reachable = await createTask(user);
    const r = await registerRunner(user);
    const control = await connectRunner(r.credential);
    expect((await control.next("assign")).assignment.task.id).toBe(reachable.id);
    control.close();
  });
});

describe("liveness", () => {
  it("counts a runner silent for three heartbeats as offline: no dispatch to it, listed offline", async () => {
    const { accountID, user } = await newAccount();
    const r = await registerRunner(user);
    const control = await connectRunner(r.credential);
    // A minute passes with no heartbeat.
    await silence(accountID);
    const task = await createTask(user);
    await control.fence();
    expect(assigns(control)).toHaveLength(0);
    const listed = ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners[0];
    expect(listed.online).toBe(false);
    // A heartbeat brings it back, and the queued task goes to it.
    control.send({ type: "heartbeat", tasks: [] });
    expect((await control.next("assign")).assignment.task.id).toBe(task.id);
    control.close();
  });

  it("hands nothing to a runner that says in hello it takes no new tasks, lists why, and dispatches once a hello takes them again", async () => {
    const { user } = await newAccount();
    const r = await registerRunner(user);
    const control = await openSocket("/v1/runner/connect", bearer(r.credential));
    const hello = { type: "hello", version: "test", labels: [], capacity: 1, tasks: [] };
    control.send({ ...hello, draining: "the journal's disk is full (SQLITE_FULL)" });
    await control.next("welcome");
    const task = await createTask(user);
    await control.fence();
    expect(assigns(control)).toHaveLength(0);
    const listed = ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners[0];
    expect(listed).toMatchObject({ online: true, draining: false, drainingReason: "the journal's disk is full (SQLITE_FULL)" });
    control.send(hello);
    expect((await control.next("assign")).assignment.task.id).toBe(task.id);
    const after = ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners[0];
    expect(after.drainingReason).toBeUndefined();
    control.close();
  });
});
