import { abortAllDurableObjects, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskRoom } from "./task-room.ts";
import { CloseCode } from "../../shared/index.ts";
import { ACCOUNT_ID, USER, allEvents, attachedRunner, logEvents, newRoom, openRunner, openViewer, roomStub } from "../testing/task-room.ts";

const now = () => new Date().toISOString();

describe("TaskRoom runner data socket", () => {
  it("stores a batch once with the room's seq and acks cumulatively; a resent batch is dropped and acked", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    expect(runner.frames[0]).toEqual({ type: "attached", taskID, epoch: 1, ackedRseq: 0, commands: [] });
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 3) });
    expect(await runner.next("ack")).toEqual({ type: "ack", taskID, epoch: 1, rseq: 3 });
    const from = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 3) });
    expect(await runner.next("ack", from)).toEqual({ type: "ack", taskID, epoch: 1, rseq: 3 });
    const overlap = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(2, 4) });
    expect((await runner.next("ack", overlap)).rseq).toBe(5);
    const events = await allEvents(stub);
    expect(events.map((e) => [e.seq, e.type, e.data.message ?? e.data.status])).toEqual([
      [1, "status", "queued"],
      [2, "status", "assigned"],
      [3, "log", "line 1"],
      [4, "log", "line 2"],
      [5, "log", "line 3"],
      [6, "log", "line 4"],
      [7, "log", "line 5"],
    ]);
    expect(runner.frames.some((f) => f.type === "error")).toBe(false);
  });

  it("a re-attached runner learns its acked rseq and resends only the rest", async () => {
    const { stub, taskID } = await newRoom();
    const first = await attachedRunner(stub, taskID);
    first.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 4) });
    await first.next("ack");
    const second = await openRunner(stub, "run_a");
    second.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect(await second.next("attached")).toMatchObject({ ackedRseq: 4 });
    expect((await first.waitClosed()).code).toBe(CloseCode.Replaced);
  });

  it("holds a batch that arrives ahead of a gap and stores it in order once the gap fills", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 2) });
    await runner.until((f) => f.some((x) => x.type === "ack" && x.rseq === 2));
    const from = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(6, 2) });
    runner.send({ type: "events", taskID, epoch: 1, events: [...logEvents(3, 1), ...logEvents(5, 1)] });
    await runner.until((f) => f.slice(from).filter((x) => x.type === "ack").length >= 2);
    // Whatever order the two frames came in, nothing beyond the gap at 4 is stored yet.
    expect(Math.max(...runner.frames.slice(from).map((f) => f.rseq))).toBe(3);
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(4, 1) });
    await runner.until((f) => f.some((x) => x.type === "ack" && x.rseq === 7));
    const lines = (await allEvents(stub)).filter((e) => e.type === "log").map((e) => e.data.message);
    expect(lines).toEqual(["line 1", "line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]);
    expect(runner.frames.some((f) => f.type === "error")).toBe(false);
  });

  it("answers a gap that never fills, once the hold is full, with an error frame and a close that asks for a resend", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 1) });
    await runner.next("ack");
    for (let i = 0; i < 65; i++) runner.send({ type: "events", taskID, epoch: 1, events: logEvents(10 + i, 1) });
    const error = await runner.next("error");
    expect(error).toMatchObject({ code: "invalid_frame", message: "rseq 10 leaves a gap: the next expected is 2" });
    expect((await runner.waitClosed()).code).toBe(CloseCode.Resync);
    const again = await openRunner(stub, "run_a");
    again.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await again.next("attached")).ackedRseq).toBe(1);
    again.send({ type: "events", taskID, epoch: 1, events: logEvents(2, 1) });
    expect((await again.next("ack")).rseq).toBe(2);
    const lines = (await allEvents(stub)).filter((e) => e.type === "log").map((e) => e.data.message);
    expect(lines).toEqual(["line 1", "line 2"]);
  });

  it("applies status, usage and diff events to the task record", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const usage = { model: "m", inputTokens: 10, outputTokens: 5, cacheReadTokens: 1, cacheWriteTokens: 2, costUSD: 0.25 };
    runner.send({
      type: "events",
      taskID,
      epoch: 1,
      events: [
        { rseq: 1, ts: now(), type: "status", data: { status: "running" } },
        { rseq: 2, ts: now(), type: "usage", data: usage },
        { rseq: 3, ts: now(), type: "usage", data: usage },
        { rseq: 4, ts: now(), type: "diff", data: { files: 2, insertions: 7, deletions: 1, artifact: "diff.patch", changedFiles: [], branch: "tether/x" } },
      ],
    });
    await runner.next("ack");
    const task = await stub.getTask(ACCOUNT_ID);
    expect(task).toMatchObject({
      status: "running",
      runnerID: "run_a",
      lastSeq: 6,
      usage: { inputTokens: 20, outputTokens: 10, cacheReadTokens: 2, cacheWriteTokens: 4, costUSD: 0.5, modelCalls: 2 },
      diff: { files: 2, insertions: 7, deletions: 1 },
      branch: "tether/x",
    });
  });

  it("counts the tokens of a call whose cost is unknown and keeps the task's cost unknown from then on", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const usage = { model: "m", inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
    runner.send({
      type: "events",
      taskID,
      epoch: 1,
      events: [
        { rseq: 1, ts: now(), type: "usage", data: { ...usage, costUSD: 0.25 } },
        { rseq: 2, ts: now(), type: "usage", data: { ...usage, model: "unpriced", costUSD: null } },
        { rseq: 3, ts: now(), type: "usage", data: { ...usage, costUSD: 0.25 } },
      ],
    });
    await runner.next("ack");
    expect((await stub.getTask(ACCOUNT_ID))?.usage).toEqual({ inputTokens: 30, outputTokens: 15, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: null, modelCalls: 3 });
  });

  it("refuses status changes after a terminal status, keeping what came before", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    runner.send({
      type: "events",
      taskID,
      epoch: 1,
      events: [
        { rseq: 1, ts: now(), type: "status", data: { status: "succeeded" } },
        { rseq: 2, ts: now(), type: "status", data: { status: "running" } },
      ],
    });
    expect((await runner.next("error")).code).toBe("task_finished");
    expect((await runner.next("ack")).rseq).toBe(1);
    const from = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 2, ts: now(), type: "status", data: { status: "failed" } }] });
    expect((await runner.next("error", from)).code).toBe("task_finished");
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("succeeded");
    expect(await stub.renewLease("run_a", 1)).toBe(false);
    expect(await stub.command(ACCOUNT_ID, USER, { kind: "cancel" })).toMatchObject({ error: { code: "task_finished" } });
  });

  it("refuses a batch with oversized event data whole", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    runner.send({
      type: "events",
      taskID,
      epoch: 1,
      events: [...logEvents(1, 1), { rseq: 2, ts: now(), type: "tool.output", data: { callID: "c1", stream: "stdout", text: "x".repeat(70_000) } }],
    });
    expect((await runner.next("error")).code).toBe("payload_too_large");
    expect(runner.frames.some((f) => f.type === "ack")).toBe(false);
    expect((await allEvents(stub)).length).toBe(2);
  });

  it("answers every kind of bad runner frame with an error frame and stores nothing", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const ok = logEvents(1, 1)[0]!;
    const bad: [unknown, string][] = [
      ["{not json", "invalid_frame"],
      [{ type: "dance" }, "invalid_frame"],
      [{ v: 7, type: "ping" }, "unsupported_version"],
      [{ type: "hello", version: "1", labels: [], capacity: 1, tasks: [] }, "invalid_frame"],
      [{ type: "events", taskID: "tsk_other", epoch: 1, events: [ok] }, "not_found"],
      [{ type: "events", taskID, epoch: 1, events: [] }, "invalid_frame"],
      [{ type: "events", taskID, epoch: 1, events: [{ ...ok, type: "made.up" }] }, "invalid_frame"],
      [{ type: "events", taskID, epoch: 1, events: [{ ...ok, rseq: 0 }] }, "invalid_frame"],
      [{ type: "events", taskID, epoch: 1, events: [{ ...ok, ts: "yesterday" }] }, "invalid_frame"],
      [{ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "status", data: { status: "lost" } }] }, "invalid_frame"],
      [{ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "user.message", data: { text: "hi", by: "me" } }] }, "invalid_frame"],
      [{ type: "attach", taskID, epoch: 1 }, "invalid_frame"],
    ];
    for (const [frame, code] of bad) {
      const from = runner.frames.length;
      runner.send(frame);
      const error = await runner.next("error", from);
      expect(error.code, JSON.stringify(frame).slice(0, 60)).toBe(code);
    }
    expect(runner.closed).toBeNull();
    expect((await allEvents(stub)).length).toBe(2);
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
  });

  it("wants attach before events", async () => {
    const { stub, taskID } = await newRoom();
    await stub.assign("run_a", 1, 90);
    const runner = await openRunner(stub, "run_a");
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 1) });
    expect((await runner.next("error")).message).toContain("attach");
    expect((await allEvents(stub)).length).toBe(2);
  });

  it("refuses a stale epoch and a runner that does not hold the task, and closes their sockets", async () => {
    const { stub, taskID } = await newRoom();
    expect(await stub.assign("run_a", 1, 90)).toBe(true);
    await stub.requeue(1, "not accepted in time");
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("queued");
    expect(await stub.assign("run_c", 1, 90)).toBe(false);
    expect(await stub.assign("run_b", 2, 90)).toBe(true);
    expect(await stub.assign("run_a", 1, 90)).toBe(false);

    const late = await openRunner(stub, "run_a");
    late.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await late.next("error")).code).toBe("stale_epoch");
    expect((await late.waitClosed()).code).toBe(CloseCode.Replaced);

    const stranger = await openRunner(stub, "run_c");
    stranger.send({ type: "attach", taskID, epoch: 2, afterCommandSeq: 0 });
    expect((await stranger.next("error")).code).toBe("not_leased");
    expect((await stranger.waitClosed()).code).toBe(CloseCode.Revoked);

    const owner = await openRunner(stub, "run_b");
    owner.send({ type: "attach", taskID, epoch: 2, afterCommandSeq: 0 });
    await owner.next("attached");
    expect(await stub.holdsLease(ACCOUNT_ID, "run_b", 2)).toBe(true);
    expect(await stub.holdsLease(ACCOUNT_ID, "run_a", 1)).toBe(false);
    const events = await allEvents(stub);
    expect(events.map((e) => [e.data.status, e.data.runnerID ?? null])).toEqual([
      ["queued", null],
      ["assigned", "run_a"],
      ["queued", null],
      ["assigned", "run_b"],
    ]);
  });

  it("re-delivers user commands after afterCommandSeq on attach", async () => {
    const { stub, taskID } = await newRoom();
    await stub.command(ACCOUNT_ID, USER, { kind: "message", text: "first" });
    expect(await stub.assign("run_a", 1, 90)).toBe(true);
    await stub.command(ACCOUNT_ID, USER, { kind: "message", text: "second" });
    const runner = await openRunner(stub, "run_a");
    runner.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await runner.next("attached")).commands).toEqual([
      { seq: 2, kind: "message", text: "first" },
      { seq: 4, kind: "message", text: "second" },
    ]);
    const again = await openRunner(stub, "run_a");
    again.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 2 });
    expect((await again.next("attached")).commands).toEqual([{ seq: 4, kind: "message", text: "second" }]);
    // Attached now: a cancel goes to the runner instead of ending the task.
    await stub.command(ACCOUNT_ID, USER, { kind: "cancel" });
    expect(await again.next("command")).toMatchObject({ command: { seq: 5, kind: "cancel" } });
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
  });

  it("does not requeue a task whose runner attached", async () => {
    const { stub, taskID } = await newRoom();
    await attachedRunner(stub, taskID);
    await stub.requeue(1, "late");
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
    expect(await stub.assign("run_b", 2, 90)).toBe(false);
  });

  it("revoking the runner closes its socket as revoked and loses the task", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    await stub.revokeRunner("run_a", "runner run_a was deleted");
    expect((await runner.waitClosed()).code).toBe(CloseCode.Revoked);
    expect(await stub.getTask(ACCOUNT_ID)).toMatchObject({ status: "lost", statusReason: "runner run_a was deleted" });
    expect(await stub.holdsLease(ACCOUNT_ID, "run_a", 1)).toBe(false);
  });
});

describe("TaskRoom after an eviction", () => {
  it("keeps the log, the lease and the rseq fence in SQLite: the runner resumes, a viewer replays", async () => {
    const { stub: first, taskID } = await newRoom();
    const runner = await attachedRunner(first, taskID);
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 5) });
    await runner.next("ack");
    await abortAllDurableObjects();
    await runner.waitClosed();
    // A stub of the aborted instance stays broken; a new one reaches the restarted room.
    const stub = roomStub(taskID);
    const again = await openRunner(stub, "run_a");
    again.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await again.next("attached")).ackedRseq).toBe(5);
    again.send({ type: "events", taskID, epoch: 1, events: logEvents(4, 4) });
    expect((await again.next("ack")).rseq).toBe(7);
    const viewer = await openViewer(stub, 0);
    expect(await viewer.next("replayed")).toMatchObject({ lastSeq: 9, status: "assigned" });
    expect(viewer.seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await stub.holdsLease(ACCOUNT_ID, "run_a", 1)).toBe(true);
    expect(await stub.getTask(ACCOUNT_ID)).toMatchObject({ id: taskID, prompt: "Fix the bug", status: "assigned", runnerID: "run_a", lastSeq: 9 });
  });
});

describe("TaskRoom lease", () => {
  it("loses the task when the grace runs out, once, however often the alarm runs", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID, "run_a", 1, 1, 1);
    const viewer = await openViewer(stub, 0);
    await viewer.next("replayed");
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    // The alarm may have fired on its own by now; either way it has run once.
    await runDurableObjectAlarm(stub);
    expect(await stub.getTask(ACCOUNT_ID)).toMatchObject({ status: "lost", statusReason: "runner run_a not heard from for 1 s" });
    expect((await runner.waitClosed()).code).toBe(CloseCode.Gone);
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    const events = await allEvents(stub);
    expect(events.filter((e) => e.data.status === "lost").length).toBe(1);
    await viewer.until(() => viewer.seqs().at(-1) === events.at(-1)!.seq);
    expect(viewer.seqs()).toEqual(events.map((e) => e.seq));
  });

  it("a frame from the holder renews the lease, so an early alarm changes nothing", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID, "run_a", 1, 2);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    runner.send({ type: "ping", taskID });
    await runner.next("pong");
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
    expect(await stub.renewLease("run_a", 1)).toBe(true);
    expect(await stub.renewLease("run_b", 1)).toBe(false);
  });

  it("a frame that did not move the stored lease still counts as contact at the lease alarm", async () => {
    const { stub, taskID } = await newRoom();
    // A 4 s lease is rewritten only when contact moves it by 4/3 s or more.
    const runner = await attachedRunner(stub, taskID, "run_a", 1, 4);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    runner.send({ type: "ping", taskID });
    await runner.next("pong");
    // Past the stored lease's end, within the end the frame gave it.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
    expect(await stub.holdsLease(ACCOUNT_ID, "run_a", 1)).toBe(true);
  });

  it("an alarm on a task with no lease does nothing", async () => {
    const { stub } = await newRoom();
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("queued");
    expect((await allEvents(stub)).length).toBe(1);
  });
});
