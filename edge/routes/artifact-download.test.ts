/**
 * Attack: a runner uploads an artifact as `text/html` with a script in it, hoping the edge
 * serves it as a page of its own origin. Downloads leave with a fixed type, as attachments,
 * with `nosniff` and a sandboxing CSP.
 */
import { describe, expect, it } from "vitest";
import { bearer, call, connectRunner, createTask, registerRunner, unique, userToken } from "../testing/edge.ts";

describe("an artifact uploaded as text/html", () => {
  it("An HTML artifact is served as an inert attachment", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user);
    const control = await connectRunner(runner.credential);
    const task = await createTask(user);
    const { assignment } = await control.next("assign");
    control.send({ type: "accept", taskID: task.id, epoch: assignment.epoch });
    const page = "<html><script>fetch('/v1/tasks').then(r => r.text()).then(alert)</script></html>";
    const put = await call(`/v1/runner/tasks/${task.id}/artifacts/report.html?epoch=${assignment.epoch}`, {
      method: "PUT",
      headers: bearer(runner.credential, { "content-type": "text/html" }),
      body: page,
    });
    expect(put.status).toBe(201);

    const res = await call(`/v1/tasks/${task.id}/artifacts/report.html`, { headers: bearer(user) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="report.html"');
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
    expect(await res.text()).toBe(page);
    control.close();
  });
});
