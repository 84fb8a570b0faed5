/**
 * Attack: a runner reports absurd usage (`costUSD: 1e308`, twice) so the task's summed cost
 * overflows to Infinity, which JSON serves as `null`, and the account's task list no longer
 * parses in the client SDK. The batch is refused and the list still parses.
 */
import { describe, expect, it } from "vitest";
import { TaskPage } from "../shared/index.ts";
import { bearer, call, unique, userToken, waitFor } from "./testing/edge.ts";
import { attachedTask } from "./testing/runner-task.ts";

const now = () => new Date().toISOString();
const usage = (costUSD: number, tokens = 1) => ({
  type: "usage",
  data: { model: "m", inputTokens: tokens, outputTokens: tokens, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD },
});

describe("a runner reporting usage of 1e308 twice", () => {
  it("gets an error frame, and the task list still parses with the client SDK's schema", async () => {
    const user = await userToken({ sub: unique("overflow") });
    const { control, task, assignment, data } = await attachedTask(user);
    const batch = (events: object[]) => ({
      type: "events",
      taskID: task.id,
      epoch: assignment.epoch,
      events: events.map((e, i) => ({ rseq: i + 1, ts: now(), ...e })),
    });

    data.send(batch([{ type: "status", data: { status: "running" } }, usage(1e308), usage(1e308)]));
    data.send(batch([{ type: "status", data: { status: "running" } }, usage(0.5, 7)]));

    const listed = await waitFor(
      async () => (await call("/v1/tasks", { headers: bearer(user) })).json(),
      (page: any) => page.tasks[0]?.status === "running",
    );
    const parsed = TaskPage.safeParse(listed);
    expect(parsed.success).toBe(true);
    expect(parsed.data?.tasks[0]?.usage).toMatchObject({ costUSD: 0.5, inputTokens: 7, modelCalls: 1 });
    await data.until((f) => f.some((x) => x.type === "ack"));
    expect(data.frames.find((f) => f.type === "error")).toMatchObject({ code: "invalid_frame" });
    data.close();
    control.close();
  });
});
