/**
 * Web Push across processes: the real edge under wrangler dev with VAPID keys, a scripted
 * runner moving tasks through their statuses, and a local push service stand-in that checks
 * each push's VAPID signature and decrypts it with Node's crypto.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newVapidKeys } from "../scripts/vapid-keys.ts";
import { startEdge, type WranglerEdge } from "./support/edge.ts";
import { PushService } from "./support/push-service.ts";
import { ScriptedRunner } from "./web-runner.ts";

const VAPID = newVapidKeys();

let edge: WranglerEdge;
let service: PushService;
let runner: ScriptedRunner;
let token = "";

async function api(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${edge.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function newTask(prompt: string): Promise<string> {
  const res = await api("POST", "/v1/tasks", { repo: { url: "https://example.com/r.git" }, prompt });
  expect(res.status).toBe(201);
  return ((await res.json()) as { task: { id: string } }).task.id;
}

const pushesOf = (device: string, taskID: string) => service.received.filter((p) => p.device === device && (p.payload as { taskID: string }).taskID === taskID);

beforeAll(async () => {
  service = new PushService(VAPID.publicKey);
  await service.start();
  edge = await startEdge({ vars: { VAPID_PUBLIC_KEY: VAPID.publicKey, VAPID_PRIVATE_KEY: VAPID.privateKey, VAPID_SUBJECT: "mailto:push-test@localhost" } });
  token = await edge.userToken("push-user");
  runner = new ScriptedRunner(edge.url);
  await runner.register(token);
  await runner.connect();
});

afterAll(async () => {
  runner?.close();
  await edge?.dispose();
  await service?.stop();
});

describe("push notifications through a push service stand-in", () => {
  it("hands out the configured VAPID public key", async () => {
    const res = await api("GET", "/v1/push/key");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ publicKey: VAPID.publicKey });
  });

  it("pushes once each when a task waits, reaches its budget (once, not also as waiting) and ends, encrypted for the device and signed with the edge's key", async () => {
    const phone = service.device("phone");
    expect((await api("POST", "/v1/push/subscriptions", phone.subscription())).status).toBe(204);

    const id = await newTask("Make the tests pass");
    const task = await runner.take();
    expect(task.id).toBe(id);
    await task.emit({ type: "status", data: { status: "running" } });
    await task.emit({ type: "status", data: { status: "waiting" } });
    await service.until(() => pushesOf("phone", id).length === 1);
    await task.emit({ type: "status", data: { status: "running" } });
    await task.emit({ type: "error", data: { code: "budget_exceeded", message: "the task spent its $1.00" } });
    await service.until(() => pushesOf("phone", id).length === 2);
    // A budget reached pauses the task in waiting: one push, the budget's, says so.
    await task.emit({ type: "status", data: { status: "running" } });
    await task.emit(
      { type: "budget.reached", data: { limit: "maxTurns", reason: "turn budget spent: 3 of 3 model calls made", limits: { maxTurns: 3 }, spent: { maxTurns: 3 }, remaining: { maxTurns: 0 } } },
      { type: "status", data: { status: "waiting", reason: "turn budget spent: 3 of 3 model calls made: raise the limit to go on" } },
    );
    await service.until(() => pushesOf("phone", id).length === 3);
    await task.emit({ type: "status", data: { status: "succeeded" } });
    await service.until(() => pushesOf("phone", id).length === 4);

    const url = `/tasks/${id}`;
    expect(pushesOf("phone", id).map((p) => p.payload)).toEqual([
      { taskID: id, title: "Make the tests pass", body: "Waiting for you", url },
      { taskID: id, title: "Make the tests pass", body: "Reached its budget", url },
      { taskID: id, title: "Make the tests pass", body: "Reached its budget: turn budget spent: 3 of 3 model calls made: raise the limit to go on", url },
      { taskID: id, title: "Make the tests pass", body: "Succeeded", url },
    ]);
    expect(service.received[0]!.ttl).toBe("86400");
  });

  it("drops a subscription the push service answers 410 for: the next transition reaches only the other device", async () => {
    const phone = service.devices.get("phone")!;
    phone.status = 410;
    const tablet = service.device("tablet");
    expect((await api("POST", "/v1/push/subscriptions", tablet.subscription())).status).toBe(204);

    const second = await newTask("Second task");
    await (await runner.take()).emit({ type: "status", data: { status: "failed", reason: "tests failed" } });
    await service.until(() => pushesOf("phone", second).length === 1 && pushesOf("tablet", second).length === 1);
    expect(pushesOf("tablet", second)[0]!.payload).toMatchObject({ body: "Failed: tests failed" });

    const third = await newTask("Third task");
    await (await runner.take()).emit({ type: "status", data: { status: "succeeded" } });
    await service.until(() => pushesOf("tablet", third).length === 1);
    expect(pushesOf("phone", third)).toEqual([]);
    // Every task's every transition pushed once per device, no more.
    expect(service.received.filter((p) => p.device === "phone")).toHaveLength(5);
    expect(service.received.filter((p) => p.device === "tablet")).toHaveLength(2);

    expect((await api("DELETE", "/v1/push/subscriptions", { endpoint: phone.endpoint })).status).toBe(404);
    expect((await api("DELETE", "/v1/push/subscriptions", { endpoint: tablet.endpoint })).status).toBe(204);
  });
});
