import { describe, expect, it } from "vitest";
import { BEARER_SUBPROTOCOL_PREFIX, CloseCode, LIMITS, SUBPROTOCOL } from "../shared/index.ts";
import { type TestSocket, bearer, call, connectRunner, createTask, openSocket, registerRunner, unique, userToken, waitFor } from "./testing/edge.ts";
import { runningTask } from "./testing/runner-task.ts";

const eventsSeen = (ws: TestSocket) => ws.frames.flatMap((f) => (f.type === "event" ? [f.event] : f.type === "events" ? f.events : []));
const now = () => new Date().toISOString();

describe("a task from phone to runner and back, through the Worker", () => {
  it("create → assign → accept → attach → events → viewer; cancel reaches the runner; artifacts under the lease", async () => {
    const user = await userToken({ sub: unique("flow") });
    const runner = await registerRunner(user, { name: "box" });
    const control = await connectRunner(runner.credential, { capacity: 1 });
    const task = await createTask(user);
    const viewer = await openSocket(`/v1/tasks/${task.id}/ws?after=0`, { "sec-websocket-protocol": `${SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}${user}` });
    await viewer.next("replayed");

    const { assignment } = await control.next("assign");
    control.send({ type: "accept", taskID: task.id, epoch: assignment.epoch });
    const data = await openSocket(`/v1/runner/tasks/${task.id}/ws`, bearer(runner.credential));
    data.send({ type: "attach", taskID: task.id, epoch: assignment.epoch, afterCommandSeq: 0 });
    expect(await data.next("attached")).toMatchObject({ ackedRseq: 0, commands: [] });
    data.send({
      type: "events",
      taskID: task.id,
      epoch: assignment.epoch,
      events: [
        { rseq: 1, ts: now(), type: "status", data: { status: "running" } },
        { rseq: 2, ts: now(), type: "agent.text", data: { turn: 0, text: "Looking at the test." } },
        { rseq: 3, ts: now(), type: "usage", data: { model: "m", inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0.01 } },
      ],
    });
    expect(await data.next("ack")).toMatchObject({ rseq: 3, epoch: assignment.epoch });
    await viewer.until((f) => eventsSeen({ frames: f } as TestSocket).some((e) => e.type === "agent.text"));
    const seqs = eventsSeen(viewer).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(eventsSeen(viewer).map((e) => e.type)).toEqual(["status", "status", "status", "agent.text", "usage"]);

    // The runner uploads the diff under its lease; nobody else can.
    const key = `/v1/runner/tasks/${task.id}/artifacts/diff.patch`;
    expect((await call(`${key}?epoch=${assignment.epoch}`, { method: "PUT", headers: bearer(runner.credential, { "content-type": "text/x-diff" }), body: "+fix\n" })).status).toBe(201);
    expect((await call(`${key}?epoch=${assignment.epoch + 1}`, { method: "PUT", headers: bearer(runner.credential), body: "x" })).status).toBe(409);
    expect((await call(`${key}?epoch=0`, { method: "PUT", headers: bearer(runner.credential), body: "x" })).status).toBe(400);
    expect((await call(`${key}?epoch=1`, { method: "PUT", headers: bearer(user), body: "x" })).status).toBe(401);
    expect((await call(`/v1/runner/tasks/${task.id}/artifacts/a%2Fb?epoch=1`, { method: "PUT", headers: bearer(runner.credential), body: "x" })).status).toBe(400);
    const big = new Uint8Array(LIMITS.maxArtifactBytes + 1);
    expect((await call(`${key}?epoch=${assignment.epoch}`, { method: "PUT", headers: bearer(runner.credential), body: big })).status).toBe(413);
    const got = await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(user) });
    expect(await got.text()).toBe("+fix\n");

    // The phone cancels; the runner gets the command on its data socket and reports the end.
    viewer.send({ type: "cancel" });
    const command = await data.next("command");
    expect(command).toMatchObject({ taskID: task.id, command: { kind: "cancel" } });
    data.send({ type: "events", taskID: task.id, epoch: assignment.epoch, events: [{ rseq: 4, ts: now(), type: "status", data: { status: "cancelled" } }] });
    await data.until((f) => f.some((x) => x.type === "ack" && x.rseq === 4));
    await viewer.until((f) => eventsSeen({ frames: f } as TestSocket).some((e) => e.type === "status" && e.data.status === "cancelled"));
    // The room reports to the Account's index after the ack; the list follows.
    const listed = await waitFor(
      async () => ((await (await call("/v1/tasks", { headers: bearer(user) })).json()) as any).tasks[0],
      (t) => t.status === "cancelled",
    );
    expect(listed).toMatchObject({ id: task.id, status: "cancelled" });
    expect(listed.usage).toMatchObject({ inputTokens: 10, outputTokens: 5 });
    const runners = ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners;
    expect(runners[0].runningTasks).toEqual([]);
    viewer.close();
    data.close();
    control.close();
  });

  it("deleting a runner that runs a task closes its sockets and makes the task lost", async () => {
    const user = await userToken({ sub: unique("flow") });
    const { runner, control, task, data } = await runningTask(user);

    expect((await call(`/v1/runners/${runner.id}`, { method: "DELETE", headers: bearer(user) })).status).toBe(204);
    expect((await control.waitClosed()).code).toBe(CloseCode.Revoked);
    expect((await data.waitClosed()).code).toBe(CloseCode.Revoked);
    const got = ((await (await call(`/v1/tasks/${task.id}`, { headers: bearer(user) })).json()) as any).task;
    expect(got.status).toBe("lost");
    expect(got.statusReason).toMatch(/deleted/);
    const listed = ((await (await call("/v1/tasks", { headers: bearer(user) })).json()) as any).tasks[0];
    expect(listed.status).toBe("lost");
    expect((await call(`/v1/runner/tasks/${task.id}/ws`, { headers: bearer(runner.credential, { upgrade: "websocket" }) })).status).toBe(401);
  });

  it("refuses the data socket to a runner that does not hold the task", async () => {
    const user = await userToken({ sub: unique("flow") });
    const holder = await registerRunner(user);
    const other = await registerRunner(user);
    const control = await connectRunner(holder.credential);
    const task = await createTask(user);
    await control.next("assign");
    const res = await call(`/v1/runner/tasks/${task.id}/ws`, { headers: bearer(other.credential, { upgrade: "websocket" }) });
    expect(res.status).toBe(404);
    expect((await call(`/v1/runner/tasks/nope/ws`, { headers: bearer(holder.credential, { upgrade: "websocket" }) })).status).toBe(404);
    expect((await call(`/v1/runner/tasks/${task.id}/ws`, { headers: bearer(holder.credential) })).status).toBe(426);
    control.close();
  });
});
