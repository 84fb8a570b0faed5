import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { bearer, call, unique, userToken } from "../testing/edge.ts";
import { attachedTask } from "../testing/runner-task.ts";
import { orgAccountID } from "../auth/index.ts";
import { artifactKey } from "./artifact-names.ts";

describe("artifact uploads", () => {
  it("An artifact upload after the terminal status is refused", async () => {
    const org = unique("org");
    const user = await userToken({ sub: "u", org });
    const { runner, control, task, assignment, data } = await attachedTask(user);
    const put = (name: string, body: string) =>
      call(`/v1/runner/tasks/${task.id}/artifacts/${name}?epoch=${assignment.epoch}`, { method: "PUT", headers: bearer(runner.credential), body });

    // Under the lease, before the end, an upload is stored.
    expect((await put("diff.patch", "+before\n")).status).toBe(201);
    data.send({ type: "events", taskID: task.id, epoch: assignment.epoch, events: [{ rseq: 1, ts: new Date().toISOString(), type: "status", data: { status: "succeeded" } }] });
    await data.until((f) => f.some((x) => x.type === "ack" && x.rseq === 1));

    const late = await put("diff.patch", "+after\n");
    expect(late.status).toBe(409);
    expect(await late.json()).toEqual({ error: { code: "task_finished", message: `task ${task.id} is succeeded: uploads end with its terminal status` } });
    expect((await put("late.log", "x")).status).toBe(409);
    expect(await (await env.ARTIFACTS.get(artifactKey(orgAccountID(org), task.id, "diff.patch")))!.text()).toBe("+before\n");
    expect(await env.ARTIFACTS.get(artifactKey(orgAccountID(org), task.id, "late.log"))).toBeNull();
    data.close();
    control.close();
  });
});
