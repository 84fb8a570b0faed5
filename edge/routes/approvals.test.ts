import { describe, expect, it } from "vitest";
import { JSON_HEADERS, bearer, call, createTask, unique, userToken } from "../testing/edge.ts";

async function post(path: string, token: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await call(path, { method: "POST", headers: bearer(token, JSON_HEADERS), body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe("POST /v1/tasks/:id/approvals/:approvalID", () => {
  it("takes a task's mode and approval time at creation, and refuses bad ones", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token, { mode: "ask", approvalTimeoutSeconds: 600 });
    expect(task).toMatchObject({ mode: "ask", approvalTimeoutSeconds: 600 });
    expect((await createTask(token, {})).mode).toBeUndefined();
    const repo = { url: "https://example.com/r.git" };
    for (const extra of [{ mode: "yolo" }, { approvalTimeoutSeconds: 5 }, { approvalTimeoutSeconds: 86_401 }]) {
      const res = await post("/v1/tasks", token, { repo, prompt: "x", ...extra });
      expect(res, JSON.stringify(extra)).toMatchObject({ status: 400, body: { error: { code: "invalid_body" } } });
    }
  });

  it("answers 400 to a bad answer, 404 to an approval the task never asked, 404 to another account's task", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token, { mode: "ask" });
    for (const body of [{}, { decision: "maybe" }, { decision: "edit" }, { decision: "yes", text: "x" }, { decision: "yes", extra: 1 }]) {
      expect(await post(`/v1/tasks/${task.id}/approvals/a1`, token, body), JSON.stringify(body)).toMatchObject({ status: 400, body: { error: { code: "invalid_body" } } });
    }
    expect(await post(`/v1/tasks/${task.id}/approvals/a1`, token, { decision: "yes" })).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect(await post(`/v1/tasks/${task.id}/approvals/${"x".repeat(65)}`, token, { decision: "yes" })).toMatchObject({ status: 404 });
    const other = await userToken({ sub: unique("u") });
    expect(await post(`/v1/tasks/${task.id}/approvals/a1`, other, { decision: "yes" })).toMatchObject({ status: 404 });
  });
});
