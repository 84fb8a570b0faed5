/**
 * An approval reaches the owner's device: the real edge under wrangler dev with VAPID keys, a
 * scripted runner relaying a worker's question, and the local push service stand-in that
 * checks each push's signature and decrypts it. The task's record says it needs its owner
 * until the answer, which reaches the runner as a command.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type PushStack, startPushStack } from "./support/push-stack.ts";

let push: PushStack;

beforeAll(async () => {
  push = await startPushStack("approval-user");
});

afterAll(async () => {
  await push?.dispose();
});

it("a question pushes once to the device, the list says the task needs its owner, and the answer reaches the runner", async () => {
  const phone = push.service.device("phone");
  expect((await push.api("POST", "/v1/push/subscriptions", phone.subscription())).status).toBe(204);
  const created = await push.api("POST", "/v1/tasks", { repo: { url: "https://example.com/r.git" }, prompt: "Run the tests", mode: "ask" });
  const id = ((await created.json()) as { task: { id: string } }).task.id;
  const task = await push.runner.take();
  expect(task.assignment.task).toMatchObject({ id, mode: "ask" });
  await task.emit({ type: "status", data: { status: "running" } });
  await task.emit({ type: "approval.requested", data: { approvalID: "q1", kind: "command", subject: "npm test" } });
  await push.service.until(() => push.service.received.some((p) => (p.payload as { taskID: string }).taskID === id));
  expect(push.service.received.map((p) => p.payload)).toEqual([{ taskID: id, title: "Run the tests", body: "Asks for your approval: npm test", url: `/tasks/${id}` }]);

  const list = (await (await push.api("GET", "/v1/tasks")).json()) as { tasks: { id: string; pendingApproval: unknown }[] };
  expect(list.tasks.find((t) => t.id === id)?.pendingApproval).toMatchObject({ approvalID: "q1", kind: "command", subject: "npm test" });

  expect((await push.api("POST", `/v1/tasks/${id}/approvals/q1`, { decision: "yes" })).status).toBe(202);
  expect(await task.nextCommand()).toMatchObject({ kind: "approval", approvalID: "q1", approved: true });
  const after = (await (await push.api("GET", "/v1/tasks")).json()) as { tasks: { id: string; pendingApproval: unknown }[] };
  expect(after.tasks.find((t) => t.id === id)?.pendingApproval).toBeNull();
  // The answer is no new moment to push.
  expect(push.service.received).toHaveLength(1);
});
