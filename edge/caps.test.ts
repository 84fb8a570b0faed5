/**
 * Attacks on the edge's capacity, each closed by a cap of `CAPS` (shared/limits.ts): over a
 * cap is `rate_limited`, a 429 on REST and on a refused upgrade, an error frame on a socket.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CAPS, CloseCode, LIMITS } from "../shared/index.ts";
import { AccountStore } from "./account/store.ts";
import { userAccountID } from "./auth/index.ts";
import { JSON_HEADERS, accountStub, bearer, call, unique, userToken } from "./testing/edge.ts";
import { ACCOUNT_ID, TestSocket, USER, attachedRunner, logEvents, makeTask, newRoom, openViewer, upgrade } from "./testing/task-room.ts";
import type { TaskRoom } from "./task-room/index.ts";

describe("caps of a task", () => {
  it("Flooding a viewer socket gets rate_limited frames and the excess is dropped", async () => {
    const { stub } = await newRoom();
    const viewer = await openViewer(stub);
    await viewer.next("replayed");
    // Frames the room must read (a bare ping is answered by the runtime without waking it).
    const sent = 6 * CAPS.viewerFramesPerSecond;
    for (let i = 0; i < sent; i++) viewer.send({ type: "nonsense" });
    const errors = (code: string) => viewer.frames.filter((x) => x.type === "error" && x.code === code).length;
    await viewer.until(() => errors("invalid_frame") + errors("rate_limited") === sent);
    expect(errors("invalid_frame")).toBeGreaterThanOrEqual(2 * CAPS.viewerFramesPerSecond);
    expect(errors("rate_limited")).toBeGreaterThan(0);
    viewer.close();
  });

  it("Opening more viewers than the cap on one task is refused with 429", async () => {
    const { stub } = await newRoom();
    const viewers = [];
    for (let i = 0; i < CAPS.maxViewersPerTask; i++) viewers.push(await openViewer(stub));
    const refused = await upgrade(stub, "/viewer", { "x-tether-user": USER });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: { code: "rate_limited", message: expect.any(String) } });
    for (const v of viewers) v.close();
  });

  it("Sending follow-ups faster than the per-minute cap is refused as rate_limited", async () => {
    const { stub } = await newRoom();
    const answers = [];
    for (let i = 0; i < CAPS.followUpsPerMinute + 10; i++) answers.push(await stub.command(ACCOUNT_ID, USER, { kind: "message", text: `m${i}` }));
    expect(answers.slice(0, CAPS.followUpsPerMinute).every((a) => a !== null && "seq" in a)).toBe(true);
    expect(answers.some((a) => a !== null && "error" in a && a.error.code === "rate_limited")).toBe(true);
    expect(await stub.command(ACCOUNT_ID, USER, { kind: "cancel" })).toMatchObject({ seq: expect.any(Number) });
  });

  it("A viewer replaying a long log does not hold the room: a command lands mid-replay, exactly once", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    const pageEvents = CAPS.replayFramesPerTurn * LIMITS.replayFrameEvents;
    const batches = Math.ceil((pageEvents + 10) / LIMITS.maxEventsPerBatch);
    for (let b = 0; b < batches; b++) runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1 + b * LIMITS.maxEventsPerBatch, LIMITS.maxEventsPerBatch) });
    await runner.until((f) => f.some((x) => x.type === "ack" && x.rseq === batches * LIMITS.maxEventsPerBatch));
    const before = (await stub.getTask(ACCOUNT_ID))!.lastSeq;
    expect(before).toBeGreaterThan(pageEvents);

    // The viewer's upgrade, then a command right after it, in the room's own context.
    const { seq, frames, seqs } = await runInDurableObject(stub, async (room: TaskRoom) => {
      const res = await room.fetch(new Request("http://room/viewer?after=0", { headers: { Upgrade: "websocket", "x-tether-account": ACCOUNT_ID, "x-tether-user": USER } }));
      const answer = await room.command(ACCOUNT_ID, USER, { kind: "message", text: "while replaying" });
      const viewer = new TestSocket(res.webSocket!);
      await viewer.next("replayed");
      viewer.close();
      return { seq: (answer as { seq: number }).seq, frames: viewer.frames.map((f) => (f.type === "replayed" ? f : { type: f.type })), seqs: viewer.seqs() };
    });
    expect(seq).toBe(before + 1);
    const replayedAt = frames.findIndex((f: any) => f.type === "replayed");
    expect((frames[replayedAt] as any).lastSeq).toBe(before + 1);
    expect(seqs).toEqual(Array.from({ length: before + 1 }, (_, i) => i + 1));
    expect(replayedAt).toBeGreaterThan(CAPS.replayFramesPerTurn);
    runner.close();
  });

  it("A runner cannot grow a task's log past its event cap: the task ends failed", async () => {
    const { stub, taskID } = await newRoom();
    const runner = await attachedRunner(stub, taskID);
    await runInDurableObject(stub, (room: TaskRoom) => {
      const record = (room as any).state.load();
      record.task.lastSeq = CAPS.maxEventsPerTask - 1;
      (room as any).store.saveTask(record.task);
    });
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(1, 1) });
    await runner.until((f) => f.some((x) => x.type === "ack" && x.rseq === 1));
    expect((await stub.getTask(ACCOUNT_ID))?.lastSeq).toBe(CAPS.maxEventsPerTask);
    expect(await stub.command(ACCOUNT_ID, USER, { kind: "message", text: "more" })).toMatchObject({ error: { code: "rate_limited" } });
    const before = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: logEvents(2, 1) });
    expect(await runner.next("error", before)).toMatchObject({ code: "rate_limited", taskID });
    expect((await runner.waitClosed()).code).toBe(CloseCode.Gone);
    expect(await stub.getTask(ACCOUNT_ID)).toMatchObject({ status: "failed", statusReason: expect.stringContaining("cap"), lastSeq: CAPS.maxEventsPerTask + 1 });
  });
});

describe("caps of an account", () => {
  it("An account cannot pile up more unfinished tasks than its cap (429)", async () => {
    const sub = unique("u");
    const user = await userToken({ sub });
    await runInDurableObject(accountStub(userAccountID(sub)), (_i, state) => {
      const store = new AccountStore(state.storage.sql);
      for (let i = 0; i < CAPS.maxUnfinishedTasksPerAccount; i++) store.insertTask(makeTask(`tsk_${i.toString(16).padStart(20, "0")}`));
    });
    const res = await call("/v1/tasks", { method: "POST", headers: bearer(user, JSON_HEADERS), body: JSON.stringify({ repo: { url: "https://example.com/r.git" }, prompt: "x" }) });
    expect(res.status).toBe(429);
    expect(((await res.json()) as any).error.code).toBe("rate_limited");
  });

  it("An account cannot hold more open registration tokens than its cap (429)", async () => {
    const user = await userToken({ sub: unique("u") });
    const mint = () => call("/v1/runners/registration-tokens", { method: "POST", headers: bearer(user) });
    for (let i = 0; i < CAPS.maxOpenRegistrationTokens; i++) expect((await mint()).status).toBe(201);
    const res = await mint();
    expect(res.status).toBe(429);
    expect(((await res.json()) as any).error.code).toBe("rate_limited");
  });

  it("An account cannot register more runners than its cap (429)", async () => {
    const sub = unique("u");
    const user = await userToken({ sub });
    const made = await call("/v1/runners/registration-tokens", { method: "POST", headers: bearer(user) });
    const { token } = (await made.json()) as { token: string };
    await runInDurableObject(accountStub(userAccountID(sub)), (_i, state) => {
      const store = new AccountStore(state.storage.sql);
      for (let i = 0; i < CAPS.maxRunnersPerAccount; i++) {
        const id = `rnr_${i.toString(16).padStart(16, "0")}`;
        store.insertRunner({ id, name: id, labels: [], capacity: 1, secretHash: "x", createdAt: new Date().toISOString(), lastSeenAt: null, version: null });
      }
    });
    const res = await call("/v1/runners/register", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ token }) });
    expect(res.status).toBe(429);
    expect(((await res.json()) as any).error.code).toBe("rate_limited");
  });
});
