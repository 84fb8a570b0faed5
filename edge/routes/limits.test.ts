/**
 * `PATCH /v1/tasks/:id/limits` in workerd: only the owner raises, only upwards, only limits the
 * task has, within their bounds; everything else is a 4xx error body and changes nothing. A
 * raise is a `budget.raised` event, the task's limits, and a `limits` command for its runner.
 */
import { describe, expect, it } from "vitest";
import { JSON_HEADERS, bearer, call, createTask, unique, userToken } from "../testing/edge.ts";
import { ACCOUNT_ID, USER, attachedRunner, freshTaskID, makeTask, openRunner, roomStub } from "../testing/task-room.ts";

const LIMITS = { maxTurns: 2, maxTokens: 1000, maxCostUSD: 1, timeoutMinutes: 5 };

async function patch(id: string, token: string, body: string): Promise<Response> {
  return call(`/v1/tasks/${id}/limits`, { method: "PATCH", headers: bearer(token, JSON_HEADERS), body });
}

async function errorOf(res: Response): Promise<{ status: number; code: string }> {
  const body = (await res.json()) as any;
  return { status: res.status, code: body.error.code };
}

describe("PATCH /v1/tasks/:id/limits", () => {
  it("raises the named limits: 200, the task's new limits, a budget.raised event with the previous ones", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token, { limits: { ...LIMITS, memoryMB: 256 } });
    const res = await patch(task.id, token, JSON.stringify({ maxTurns: 10, maxCostUSD: 2.5 }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.task.limits).toEqual({ ...LIMITS, maxTurns: 10, maxCostUSD: 2.5, memoryMB: 256 });
    const read = (await (await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).json()) as any;
    expect(read.task.limits).toMatchObject({ maxTurns: 10, maxCostUSD: 2.5 });
    const events = (await (await call(`/v1/tasks/${task.id}/events?after=1`, { headers: bearer(token) })).json()) as any;
    expect(events.events).toEqual([
      expect.objectContaining({ seq: body.seq, type: "budget.raised", data: { limits: { ...LIMITS, maxTurns: 10, maxCostUSD: 2.5 }, previous: LIMITS, by: expect.any(String) } }),
    ]);
  });

  it("refuses a lowering, an equal value, a limit the task does not have, bad numbers and unknown fields with 400 and logs nothing", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token, { limits: { maxTurns: 2, maxTokens: 1000 } });
    const bad = [
      "{not json",
      "{}",
      JSON.stringify({ maxTurns: 1 }),
      JSON.stringify({ maxTurns: 2 }),
      JSON.stringify({ maxCostUSD: 5 }),
      JSON.stringify({ maxTurns: 1001 }),
      JSON.stringify({ maxTokens: 1e300 }),
      JSON.stringify({ maxTurns: 2.5 }),
      JSON.stringify({ maxTurns: -3 }),
      JSON.stringify({ maxTurns: "10" }),
      JSON.stringify({ maxTurns: null }),
      JSON.stringify({ memoryMB: 4096 }),
      JSON.stringify({ maxTurns: 5, extra: 1 }),
      JSON.stringify([5]),
    ];
    for (const body of bad) expect(await errorOf(await patch(task.id, token, body)), body).toMatchObject({ status: 400, code: "invalid_body" });
    const events = (await (await call(`/v1/tasks/${task.id}/events?after=1`, { headers: bearer(token) })).json()) as any;
    expect(events.events).toEqual([]);
  });

  it("is the owner's: another member of the account gets 403, another account 404, a finished task 409", async () => {
    const org = unique("org");
    const owner = await userToken({ sub: unique("u"), org });
    const member = await userToken({ sub: unique("u"), org });
    const stranger = await userToken({ sub: unique("u") });
    const task = await createTask(owner, { limits: LIMITS });
    expect(await errorOf(await patch(task.id, member, JSON.stringify({ maxTurns: 3 })))).toEqual({ status: 403, code: "forbidden" });
    expect(await errorOf(await patch(task.id, stranger, JSON.stringify({ maxTurns: 3 })))).toEqual({ status: 404, code: "not_found" });
    expect(await errorOf(await patch("tsk_nope", owner, JSON.stringify({ maxTurns: 3 })))).toEqual({ status: 404, code: "not_found" });
    await call(`/v1/tasks/${task.id}/cancel`, { method: "POST", headers: bearer(owner) });
    expect(await errorOf(await patch(task.id, owner, JSON.stringify({ maxTurns: 3 })))).toEqual({ status: 409, code: "task_finished" });
  });
});

describe("a raise reaches the runner", () => {
  it("as a limits command with the limits as they now stand, and again on attach; a refused raise sends nothing", async () => {
    const taskID = freshTaskID();
    const stub = roomStub(taskID);
    await stub.create(ACCOUNT_ID, { ...makeTask(taskID), limits: LIMITS });
    const runner = await attachedRunner(stub, taskID);
    expect(await stub.command(ACCOUNT_ID, "mallory", { kind: "limits", limits: { maxTurns: 5 } })).toMatchObject({ error: { code: "forbidden" } });
    expect(await stub.command(ACCOUNT_ID, USER, { kind: "limits", limits: { maxTurns: 1 } })).toMatchObject({ error: { code: "invalid_body" } });
    const accepted = (await stub.command(ACCOUNT_ID, USER, { kind: "limits", limits: { maxTurns: 5 } })) as { seq: number };
    const command = await runner.next("command");
    expect(command).toEqual({ type: "command", taskID, command: { seq: accepted.seq, kind: "limits", limits: { ...LIMITS, maxTurns: 5 } } });
    const reattached = await openRunner(stub, "run_a");
    reattached.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect(await reattached.next("attached")).toMatchObject({ commands: [{ seq: accepted.seq, kind: "limits", limits: { ...LIMITS, maxTurns: 5 } }] });
  });
});
