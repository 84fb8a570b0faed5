/**
 * An approval reaches the owner's device: the real edge under wrangler dev with VAPID keys, a
 * scripted runner relaying a worker's question, and the local push service stand-in that
 * checks each push's signature and decrypts it. The task's record says it needs its owner
 * until the answer, which reaches the runner as a command.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
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

beforeAll(async () => {
  service = new PushService(VAPID.publicKey);
  await service.start();
  edge = await startEdge({ vars: { VAPID_PUBLIC_KEY: VAPID.publicKey, VAPID_PRIVATE_KEY: VAPID.privateKey, VAPID_SUBJECT: "mailto:push-test@localhost" } });
  token = await edge.userToken("approval-user");
  runner = new ScriptedRunner(edge.url);
  await runner.register(token);
  await runner.connect();
});

afterAll(async () => {
  runner?.close();
  await edge?.dispose();
  await service?.stop();
});

it("a question pushes once to the device, the list says the task needs its owner, and the answer reaches the runner", async () => {
  const phone = service.device("phone");
  expect((await api("POST", "/v1/push/subscriptions", phone.subscription())).status).toBe(204);
  const created = await api("POST", "/v1/tasks", { repo: { url: "https://example.com/r.git" }, prompt: "Run the tests", mode: "ask" });
  const id = ((await created.json()) as { task: { id: string } }).task.id;
  const task = await runner.take();
  expect(task.assignment.task).toMatchObject({ id, mode: "ask" });
  await task.emit({ type: "status", data: { status: "running" } });
  await task.emit({ type: "approval.requested", data: { approvalID: "q1", kind: "command", subject: "npm test" } });
  await service.until(() => service.received.some((p) => (p.payload as { taskID: string }).taskID === id));
  expect(service.received.map((p) => p.payload)).toEqual([{ taskID: id, title: "Run the tests", body: "Asks for your approval: npm test", url: `/tasks/${id}` }]);

  const list = (await (await api("GET", "/v1/tasks")).json()) as { tasks: { id: string; pendingApproval: unknown }[] };
  expect(list.tasks.find((t) => t.id === id)?.pendingApproval).toMatchObject({ approvalID: "q1", kind: "command", subject: "npm test" });

  expect((await api("POST", `/v1/tasks/${id}/approvals/q1`, { decision: "yes" })).status).toBe(202);
  expect(await task.nextCommand()).toMatchObject({ kind: "approval", approvalID: "q1", approved: true });
  const after = (await (await api("GET", "/v1/tasks")).json()) as { tasks: { id: string; pendingApproval: unknown }[] };
  expect(after.tasks.find((t) => t.id === id)?.pendingApproval).toBeNull();
  // The answer is no new moment to push.
  expect(service.received).toHaveLength(1);
});
