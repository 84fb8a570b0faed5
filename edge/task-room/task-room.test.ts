import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BEARER_SUBPROTOCOL_PREFIX, SUBPROTOCOL, type Task } from "../../shared/index.ts";
import { ACCOUNT_ID, type RoomStub, USER, allEvents, attachedRunner, freshTaskID, logEvents, makeTask, newRoom, openViewer, roomStub, upgrade } from "../testing/task-room.ts";

describe("TaskRoom records and log", () => {
  it("creates a queued task whose log starts with seq 1 status queued, idempotently", async () => {
    const { stub, taskID } = await newRoom();
    const again = await stub.create(ACCOUNT_ID, makeTask(taskID));
    expect(again.status).toBe("queued");
    expect(again.lastSeq).toBe(1);
    const events = await allEvents(stub);
    expect(events.map((e) => [e.seq, e.type, e.data])).toEqual([[1, "status", { status: "queued" }]]);
    expect((await stub.getTask(ACCOUNT_ID))?.id).toBe(taskID);
  });

  it("shows nothing to another account", async () => {
    const { stub } = await newRoom();
    expect(await stub.getTask("acct_other")).toBeNull();
    expect(await stub.listEvents("acct_other", 0, 10)).toBeNull();
    expect(await stub.command("acct_other", "mallory", { kind: "cancel" })).toBeNull();
    expect(await stub.holdsLease("acct_other", "run_a", 1)).toBe(false);
    const res = await stub.fetch("http://room/viewer", { headers: { Upgrade: "websocket", "x-tether-account": "acct_other", "x-tether-user": "m" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "not_found", message: expect.any(String) } });
  });

  it("pages the log with after and limit, nextAfter the last seq returned", async () => {
    const { stub } = await newRoom();
    for (let i = 1; i <= 5; i++) await stub.command(ACCOUNT_ID, USER, { kind: "message", text: `m${i}` });
    const page = await stub.listEvents(ACCOUNT_ID, 2, 2);
    expect(page?.events.map((e) => e.seq)).toEqual([3, 4]);
    expect(page?.nextAfter).toBe(4);
    const end = await stub.listEvents(ACCOUNT_ID, 6, 10);
    expect(end).toEqual({ events: [], nextAfter: 6 });
  });
});

describe("TaskRoom viewer sockets", () => {
  it("replays exactly the events after after=N, then replayed, then live events", async () => {
    const { stub } = await newRoom();
    for (let i = 1; i <= 4; i++) await stub.command(ACCOUNT_ID, USER, { kind: "message", text: `m${i}` });
    const viewer = await openViewer(stub, 2);
    const replayed = await viewer.next("replayed");
    expect(replayed).toEqual({ type: "replayed", lastSeq: 5, status: "queued" });
    expect(viewer.seqs()).toEqual([3, 4, 5]);
    const beforeLive = viewer.frames.length;
    await stub.command(ACCOUNT_ID, USER, { kind: "message", text: "live" });
    const live = await viewer.next("event", beforeLive);
    expect(live.event).toMatchObject({ seq: 6, type: "user.message", data: { text: "live", by: USER } });
    expect(viewer.seqs()).toEqual([3, 4, 5, 6]);
  });

  it("answers the subprotocol when the client offered one", async () => {
    const { stub } = await newRoom();
    const res = await upgrade(stub, "/viewer", { "x-tether-user": USER, "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}abc` });
    expect(res.status).toBe(101);
    expect(res.headers.get("Sec-WebSocket-Protocol")).toBe(SUBPROTOCOL);
    res.webSocket?.accept();
    res.webSocket?.close();
    const plain = await upgrade(stub, "/viewer", { "x-tether-user": USER });
    expect(plain.headers.get("Sec-WebSocket-Protocol")).toBeNull();
    plain.webSocket?.accept();
    plain.webSocket?.close();
  });

  it("refuses a bad after, a missing identity, an unknown path and a plain request", async () => {
    const { stub } = await newRoom();
    for (const after of ["-1", "x", "1.5", "99999999999999999"]) {
      const res = await upgrade(stub, `/viewer?after=${after}`, { "x-tether-user": USER });
      expect(res.status, after).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("bad_request");
    }
    expect((await upgrade(stub, "/viewer", {})).status).toBe(404);
    expect((await upgrade(stub, "/runner", { "x-tether-user": USER })).status).toBe(404);
    expect((await upgrade(stub, "/elsewhere", { "x-tether-user": USER })).status).toBe(404);
    const plain = await stub.fetch("http://room/viewer", { headers: { "x-tether-account": ACCOUNT_ID, "x-tether-user": USER } });
    expect(plain.status).toBe(404);
  });

  it("a viewer that reconnects with after=its last seq sees no gap and no repeat", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const first = await openViewer(stub, 0);
    await first.next("replayed");
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 10) });
    await runner.until((f) => f.some((x) => x.type === "ack" && x.rseq === 10));
    await first.until(() => first.seqs().length >= 12);
    const held = first.seqs();
    first.close();
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(11, 10) });
    await runner.until((f) => f.some((x) => x.type === "ack" && x.rseq === 20));
    const second = await openViewer(stub, held.at(-1)!);
    await second.next("replayed");
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(21, 5) });
    await second.until(() => second.seqs().at(-1) === 27);
    const seen = [...held, ...second.seqs()];
    expect(seen).toEqual(Array.from({ length: 27 }, (_, i) => i + 1));
  });

  it("keeps seq contiguous and each viewer's stream exactly once under concurrent batches, commands and joins", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const early = await openViewer(stub, 0);
    const viewers = [early];
    const work: Promise<unknown>[] = [];
    for (let b = 0; b < 20; b++) {
      runner.send({ type: "events", taskID, epoch: 1, events: logEvents(b * 25 + 1, 25, `b${b}`) });
      if (b % 4 === 0) work.push(stub.command(ACCOUNT_ID, USER, { kind: "message", text: `note ${b}` }));
      if (b % 5 === 2) work.push(openViewer(stub, 0).then((v) => viewers.push(v)));
    }
    await Promise.all(work);
    await runner.until((f) => f.some((x) => x.type === "ack" && x.rseq === 500));
    const events = await allEvents(stub);
    const total = 2 + 500 + 5;
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const runnerLines = events.filter((e) => e.type === "log").map((e) => e.data.message);
    expect(runnerLines).toEqual(Array.from({ length: 500 }, (_, i) => `b${Math.floor(i / 25)} ${i + 1}`));
    expect(viewers.length).toBe(5);
    for (const viewer of viewers) {
      await viewer.until(() => viewer.seqs().length >= total);
      expect(viewer.seqs()).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
  }, 30_000);

  it("turns viewer message, finish and cancel frames into log events and answers ping", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const viewer = await openViewer(stub, 0);
    await viewer.next("replayed");
    viewer.send({ v: 1, type: "ping" });
    await viewer.next("pong");
    viewer.send({ type: "message", text: "  also add tests  " });
    const message = await runner.next("command");
    expect(message).toEqual({ type: "command", taskID, command: { seq: 3, kind: "message", text: "also add tests" } });
    let from = runner.frames.length;
    viewer.send({ type: "finish" });
    const finish = await runner.next("command", from);
    expect(finish).toEqual({ type: "command", taskID, command: { seq: 4, kind: "finish" } });
    from = runner.frames.length;
    viewer.send({ type: "cancel" });
    const cancel = await runner.next("command", from);
    expect(cancel).toEqual({ type: "command", taskID, command: { seq: 5, kind: "cancel" } });
    const events = await allEvents(stub);
    expect(events.slice(2).map((e) => [e.type, e.data])).toEqual([
      ["user.message", { text: "also add tests", by: USER }],
      ["user.finish", { by: USER }],
      ["user.cancel", { by: USER }],
    ]);
    // The runner decides when the task is really cancelled.
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
  });

  it("answers every kind of bad viewer frame with an error frame and stores nothing", async () => {
    const { stub } = await newRoom();
    const viewer = await openViewer(stub, 0);
    await viewer.next("replayed");
    const bad: [string, string][] = [
      ["not json", "invalid_frame"],
      [JSON.stringify({ type: "dance" }), "invalid_frame"],
      [JSON.stringify({ type: "message" }), "invalid_frame"],
      [JSON.stringify({ type: "message", text: "   " }), "invalid_frame"],
      [JSON.stringify({ type: "message", text: "x".repeat(20_001) }), "invalid_frame"],
      [JSON.stringify({ v: 2, type: "cancel" }), "unsupported_version"],
      [JSON.stringify({ type: "message", text: "x".repeat(70_000) }), "payload_too_large"],
      ["[]", "invalid_frame"],
    ];
    for (const [frame, code] of bad) {
      const from = viewer.frames.length;
      viewer.send(frame);
      const error = await viewer.next("error", from);
      expect(error.code, frame.slice(0, 40)).toBe(code);
    }
    expect((await allEvents(stub)).length).toBe(1);
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("queued");
  });
});

describe("TaskRoom commands", () => {
  it("cancels a queued task at once and then refuses commands with task_finished", async () => {
    const { stub } = await newRoom();
    const viewer = await openViewer(stub, 0);
    await viewer.next("replayed");
    const result = await stub.command(ACCOUNT_ID, USER, { kind: "cancel" });
    expect(result && "task" in result && result.task.status).toBe("cancelled");
    const events = await allEvents(stub);
    expect(events.map((e) => [e.seq, e.type, e.data.status ?? null])).toEqual([
      [1, "status", "queued"],
      [2, "user.cancel", null],
      [3, "status", "cancelled"],
    ]);
    await viewer.until(() => viewer.seqs().at(-1) === 3);
    const after = await stub.command(ACCOUNT_ID, USER, { kind: "message", text: "hello?" });
    expect(after).toEqual({ error: { code: "task_finished", message: expect.any(String) } });
    expect(await stub.assign("run_a", 1, 90)).toBe(false);
    expect((await allEvents(stub)).length).toBe(3);
  });

  it("cancels an assigned task no runner attached to, and drops its lease", async () => {
    const { stub } = await newRoom();
    expect(await stub.assign("run_a", 1, 90)).toBe(true);
    await stub.command(ACCOUNT_ID, USER, { kind: "cancel" });
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("cancelled");
    expect(await stub.holdsLease(ACCOUNT_ID, "run_a", 1)).toBe(false);
    expect(await stub.renewLease("run_a", 1)).toBe(false);
  });

  it("sends a REST cancel of a running task to the runner socket as a command", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const result = await stub.command(ACCOUNT_ID, "bob", { kind: "cancel" });
    expect(result && "seq" in result && result.seq).toBe(3);
    expect(await runner.next("command")).toEqual({ type: "command", taskID, command: { seq: 3, kind: "cancel" } });
    expect((await stub.getTask(ACCOUNT_ID))?.status).toBe("assigned");
  });

  it("refuses an empty or oversized message by RPC with invalid_body", async () => {
    const { stub } = await newRoom();
    expect(await stub.command(ACCOUNT_ID, USER, { kind: "message", text: " " })).toMatchObject({ error: { code: "invalid_body" } });
    expect(await stub.command(ACCOUNT_ID, USER, { kind: "message", text: "x".repeat(20_001) })).toMatchObject({ error: { code: "invalid_body" } });
    expect((await allEvents(stub)).length).toBe(1);
  });
});

describe("TaskRoom reports to the Account's index", () => {
  type Index = { createTask(accountID: string, task: Task): Promise<Task>; listTasks(q: { limit: number }): Promise<{ tasks: Task[] }> };
  const account = () => env.ACCOUNT.get(env.ACCOUNT.idFromName(ACCOUNT_ID)) as unknown as Index;

  async function indexed(taskID: string, test: (task: Task) => boolean): Promise<Task> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const row = (await account().listTasks({ limit: 100 })).tasks.find((t) => t.id === taskID);
      if (row && test(row)) return row;
      if (Date.now() > deadline) throw new Error(`index row of ${taskID}: ${JSON.stringify(row)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** A task made the way the create route makes it: the Account creates its room. */
  async function indexedRoom(): Promise<{ stub: RoomStub; taskID: string }> {
    const taskID = freshTaskID();
    await account().createTask(ACCOUNT_ID, makeTask(taskID));
    return { stub: roomStub(taskID), taskID };
  }

  it("sends a cancel of a queued task to the index", async () => {
    const { stub, taskID } = await indexedRoom();
    await stub.command(ACCOUNT_ID, USER, { kind: "cancel" });
    expect((await indexed(taskID, (t) => t.status === "cancelled")).status).toBe("cancelled");
  }, 15_000);

  it("sends a runner's terminal status with the usage so far to the index", async () => {
    const { stub, taskID } = await indexedRoom();
    const runner = await attachedRunner(stub, taskID, "run_idx");
    const usage = { model: "m", inputTokens: 3, outputTokens: 4, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0.01 };
    const ts = new Date().toISOString();
    runner.send({
      type: "events",
      taskID,
      epoch: 1,
      events: [
        { rseq: 1, ts, type: "status", data: { status: "running" } },
        { rseq: 2, ts, type: "usage", data: usage },
        { rseq: 3, ts, type: "status", data: { status: "succeeded" } },
      ],
    });
    await runner.next("ack");
    const row = await indexed(taskID, (t) => t.status === "succeeded");
    expect(row.usage).toMatchObject({ inputTokens: 3, outputTokens: 4, modelCalls: 1 });
  }, 15_000);
});
