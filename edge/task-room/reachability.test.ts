import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskRoom } from "./task-room.ts";
import { TaskRoomStore } from "./store.ts";
import { CloseCode } from "../../shared/index.ts";
import { ACCOUNT_ID, USER, allEvents, attachedRunner, logEvents, newRoom, openRunner, openViewer, type RoomStub } from "../testing/task-room.ts";

/** Lets a 1 s lease run out, then runs the room's alarm (it may have fired on its own already). */
async function outlastLease(stub: RoomStub): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
}

const lines = async (stub: RoomStub) => (await allEvents(stub)).filter((e) => e.type === "log" && String(e.data.message).startsWith("line ")).map((e) => e.data.message);

describe("TaskRoom with an unreachable runner", () => {
  it("past the lease the task waits, marked unreachable; the runner back within the grace re-attaches and its journal arrives once, in order", async () => {
    const { stub, taskID } = await newRoom();
    const first = await attachedRunner(stub, taskID, "run_a", 1, 1, 600);
    first.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 3) });
    await first.next("ack");
    const viewer = await openViewer(stub, 0);
    await viewer.next("replayed");
    // The link goes: the socket closes and nothing is heard from the runner.
    first.close();
    await outlastLease(stub);
    const waiting = await stub.getTask(ACCOUNT_ID);
    expect(waiting?.status).toBe("assigned");
    expect(waiting?.statusReason).toMatch(/^runner run_a unreachable \(not heard from for 1 s\): the task carries on when it is back, and is lost if it is still silent at .+ UTC$/);
    // However often the alarm runs meanwhile, the task is marked once and stays the runner's.
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect(await stub.assign("run_b", 2, 90)).toBe(false);
    expect((await allEvents(stub)).filter((e) => e.type === "log" && e.data.level === "warn")).toHaveLength(1);

    // Back: it attaches under the same fence and resends its journal from the start of what it holds.
    const again = await openRunner(stub, "run_a");
    again.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await again.next("attached")).ackedRseq).toBe(3);
    again.send({ type: "events", taskID, epoch: 1, events: logEvents(2, 9) });
    expect((await again.next("ack")).rseq).toBe(10);
    expect(await lines(stub)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i + 1}`));
    const back = await stub.getTask(ACCOUNT_ID);
    expect(back).toMatchObject({ status: "assigned", statusReason: null, runnerID: "run_a" });
    const notes = (await allEvents(stub)).filter((e) => e.type === "log" && !String(e.data.message).startsWith("line "));
    expect(notes.map((e) => [e.data.level, e.data.message])).toEqual([
      ["warn", waiting!.statusReason],
      ["info", expect.stringMatching(/^runner run_a is back after \d+ s without a word: the task carries on$/)],
    ]);
    // The viewer saw every seq exactly once.
    const events = await allEvents(stub);
    await viewer.until(() => viewer.seqs().at(-1) === events.at(-1)!.seq);
    expect(viewer.seqs()).toEqual(events.map((e) => e.seq));
    // The lease runs on: an alarm now changes nothing.
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect((await stub.getTask(ACCOUNT_ID))?.statusReason).toBeNull();
  });

  it("a heartbeat through the Account makes the unreachable runner reachable again", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID, "run_a", 1, 1, 600);
    runner.close();
    await outlastLease(stub);
    expect((await stub.getTask(ACCOUNT_ID))?.statusReason).toMatch(/unreachable/);
    expect(await stub.renewLease("run_b", 1)).toBe(false);
    expect((await stub.getTask(ACCOUNT_ID))?.statusReason).toMatch(/unreachable/);
    expect(await stub.renewLease("run_a", 1)).toBe(true);
    expect((await stub.getTask(ACCOUNT_ID))?.statusReason).toBeNull();
  });

  it("past the grace the task is lost and the runner that comes back is refused", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID, "run_a", 1, 1, 2);
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 2) });
    await runner.next("ack");
    runner.close();
    await outlastLease(stub);
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await runDurableObjectAlarm(stub);
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect(await stub.getTask(ACCOUNT_ID)).toMatchObject({ status: "lost", statusReason: "runner run_a not heard from for 2 s" });
    expect((await allEvents(stub)).filter((e) => e.data.status === "lost")).toHaveLength(1);
    expect(await stub.renewLease("run_a", 1)).toBe(false);
    const back = await openRunner(stub, "run_a");
    back.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    await back.next("attached");
    back.send({ type: "events", taskID, epoch: 1, events: logEvents(3, 2) });
    expect(await back.next("error")).toMatchObject({ code: "task_finished" });
    expect(await lines(stub)).toEqual(["line 1", "line 2"]);
  });

  it("a cancel while the runner is unreachable ends the task at once; the runner that comes back is refused", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID, "run_a", 1, 1, 600);
    runner.close();
    await outlastLease(stub);
    const answer = await stub.command(ACCOUNT_ID, USER, { kind: "cancel" });
    expect(answer).toMatchObject({ task: { status: "cancelled", statusReason: `cancelled by ${USER} while runner run_a was unreachable` } });
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    const back = await openRunner(stub, "run_a");
    back.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect(await back.next("error")).toMatchObject({ code: "not_leased" });
    expect((await back.waitClosed()).code).toBe(CloseCode.Revoked);
    expect(await stub.renewLease("run_a", 1)).toBe(false);
  });

  it("a finish while the runner is unreachable waits for it and reaches it when it re-attaches", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID, "run_a", 1, 1, 600);
    runner.close();
    await outlastLease(stub);
    const answer = await stub.command(ACCOUNT_ID, USER, { kind: "finish" });
    expect(answer).toMatchObject({ task: { status: "assigned" } });
    const back = await openRunner(stub, "run_a");
    back.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await back.next("attached")).commands).toEqual([{ seq: expect.any(Number), kind: "finish" }]);
  });

  it("a room stored before the grace existed gets its columns, and its lease reads with the lease as its grace", async () => {
    const { stub, taskID } = await newRoom();
    await attachedRunner(stub, taskID, "run_a", 1, 90, 600);
    const lease = await runInDurableObject(stub, (_room: TaskRoom, state: DurableObjectState) => {
      state.storage.sql.exec("ALTER TABLE room DROP COLUMN lease_grace");
      state.storage.sql.exec("ALTER TABLE room DROP COLUMN unreachable_since");
      return new TaskRoomStore(state.storage.sql).loadRoom()!.lease;
    });
    expect(lease).toMatchObject({ runnerID: "run_a", epoch: 1, seconds: 90, graceSeconds: 90, unreachableSince: null });
  });
});
