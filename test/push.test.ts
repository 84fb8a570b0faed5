/**
 * Web Push across processes: the real edge under wrangler dev with VAPID keys, a scripted
 * runner moving tasks through their statuses, and a local push service stand-in that checks
 * each push's VAPID signature and decrypts it with Node's crypto.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PushStack, startPushStack } from "./support/push-stack.ts";

let push: PushStack;

async function newTask(prompt: string): Promise<string> {
  const res = await push.api("POST", "/v1/tasks", { repo: { url: "https://example.com/r.git" }, prompt });
  expect(res.status).toBe(201);
  return ((await res.json()) as { task: { id: string } }).task.id;
}

const pushesOf = (device: string, taskID: string) => push.service.received.filter((p) => p.device === device && (p.payload as { taskID: string }).taskID === taskID);

beforeAll(async () => {
  push = await startPushStack("push-user");
});

afterAll(async () => {
  await push?.dispose();
});

describe("push notifications through a push service stand-in", () => {
  it("hands out the configured VAPID public key", async () => {
    const res = await push.api("GET", "/v1/push/key");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ publicKey: push.vapid.publicKey });
  });

  it("pushes once each when a task waits, reaches its budget (once, not also as waiting) and ends, encrypted for the device and signed with the edge's key", async () => {
    const phone = push.service.device("phone");
    expect((await push.api("POST", "/v1/push/subscriptions", phone.subscription())).status).toBe(204);

    const id = await newTask("Make the tests pass");
    const task = await push.runner.take();
    expect(task.id).toBe(id);
    await task.emit({ type: "status", data: { status: "running" } });
    await task.emit({ type: "status", data: { status: "waiting" } });
    await push.service.until(() => pushesOf("phone", id).length === 1);
    await task.emit({ type: "status", data: { status: "running" } });
    await task.emit({ type: "error", data: { code: "budget_exceeded", message: "the task spent its $1.00" } });
    await push.service.until(() => pushesOf("phone", id).length === 2);
    // A budget reached pauses the task in waiting: one push, the budget's, says so.
    await task.emit({ type: "status", data: { status: "running" } });
    await task.emit(
      { type: "budget.reached", data: { limit: "maxTurns", reason: "turn budget spent: 3 of 3 model calls made", limits: { maxTurns: 3 }, spent: { maxTurns: 3 }, remaining: { maxTurns: 0 } } },
      { type: "status", data: { status: "waiting", reason: "turn budget spent: 3 of 3 model calls made: raise the limit to go on" } },
    );
    await push.service.until(() => pushesOf("phone", id).length === 3);
    await task.emit({ type: "status", data: { status: "succeeded" } });
    await push.service.until(() => pushesOf("phone", id).length === 4);

    const url = `/tasks/${id}`;
    expect(pushesOf("phone", id).map((p) => p.payload)).toEqual([
      { taskID: id, title: "Make the tests pass", body: "Waiting for you", url },
      { taskID: id, title: "Make the tests pass", body: "Reached its budget", url },
      { taskID: id, title: "Make the tests pass", body: "Reached its budget: turn budget spent: 3 of 3 model calls made: raise the limit to go on", url },
      { taskID: id, title: "Make the tests pass", body: "Succeeded", url },
    ]);
    expect(push.service.received[0]!.ttl).toBe("86400");
  });

  it("drops a subscription the push service answers 410 for: the next transition reaches only the other device", async () => {
    const phone = push.service.devices.get("phone")!;
    phone.status = 410;
    const tablet = push.service.device("tablet");
    expect((await push.api("POST", "/v1/push/subscriptions", tablet.subscription())).status).toBe(204);

    const second = await newTask("Second task");
    await (await push.runner.take()).emit({ type: "status", data: { status: "failed", reason: "tests failed" } });
    await push.service.until(() => pushesOf("phone", second).length === 1 && pushesOf("tablet", second).length === 1);
    expect(pushesOf("tablet", second)[0]!.payload).toMatchObject({ body: "Failed: tests failed" });

    const third = await newTask("Third task");
    await (await push.runner.take()).emit({ type: "status", data: { status: "succeeded" } });
    await push.service.until(() => pushesOf("tablet", third).length === 1);
    expect(pushesOf("phone", third)).toEqual([]);
    // Every task's every transition pushed once per device, no more.
    expect(push.service.received.filter((p) => p.device === "phone")).toHaveLength(5);
    expect(push.service.received.filter((p) => p.device === "tablet")).toHaveLength(2);

    expect((await push.api("DELETE", "/v1/push/subscriptions", { endpoint: phone.endpoint })).status).toBe(404);
    expect((await push.api("DELETE", "/v1/push/subscriptions", { endpoint: tablet.endpoint })).status).toBe(204);
  });
});
