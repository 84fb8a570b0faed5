import { describe, expect, it } from "vitest";
import { EMPTY_USAGE, type Task, type TaskStatus } from "../../shared/index.ts";
import { foldRoomTask } from "./fold.ts";
import type { TaskRow } from "./store.ts";

function task(status: TaskStatus, lastSeq: number, runnerID: string | null = "rnr_a"): Task {
  return {
    id: "tsk_1",
    title: "t",
    repo: { url: "/r" },
    prompt: "p",
    model: null,
    labels: [],
    limits: {},
    status,
    statusReason: null,
    createdBy: "u",
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    runnerID,
    lastSeq,
    usage: EMPTY_USAGE,
    diff: null,
    branch: null,
  };
}

function row(status: TaskStatus, over: Partial<TaskRow> = {}): TaskRow {
  return { id: "tsk_1", status, labels: [], runnerID: "rnr_a", epoch: 1, accepted: false, acceptDeadline: 1000, rejectedBy: null, lastSeq: 2, task: task(status, 2), ...over };
}

describe("foldRoomTask", () => {
  it("keeps the Account's own queued/assigned state against a routine report", () => {
    const fold = foldRoomTask(row("assigned"), task("queued", 3, null), false)!;
    expect(fold.next).toMatchObject({ status: "assigned", runnerID: "rnr_a", acceptDeadline: 1000, lastSeq: 3 });
  });

  it("takes running and terminal statuses, frees the slot and revokes an unstarted assignment", () => {
    const running = foldRoomTask(row("assigned"), task("running", 4), false)!;
    expect(running.next).toMatchObject({ status: "running", accepted: true, acceptDeadline: null });
    expect(running.dispatch).toBe(false);
    const cancelled = foldRoomTask(row("assigned"), task("cancelled", 4), false)!;
    expect(cancelled).toMatchObject({ dispatch: true, revoke: "task is cancelled" });
    const done = foldRoomTask(row("running", { accepted: true }), task("succeeded", 9), false)!;
    expect(done).toMatchObject({ dispatch: true, revoke: null });
    expect(foldRoomTask(row("running", { accepted: true }), task("lost", 9), false)!.revoke).toBe("task is lost");
  });

  it("drops reports out of order and never moves a terminal row", () => {
    expect(foldRoomTask(row("running", { lastSeq: 10 }), task("waiting", 9), false)).toBeNull();
    expect(foldRoomTask(row("cancelled"), task("running", 12), false)!.next.status).toBe("cancelled");
  });

  it("lets a record read back on purpose decide: queued clears the runner, a kept assignment counts as accepted", () => {
    expect(foldRoomTask(row("assigned", { acceptDeadline: null }), task("queued", 5, "rnr_a"), true)!.next).toMatchObject({ status: "queued", runnerID: null, accepted: false });
    expect(foldRoomTask(row("assigned", { acceptDeadline: null }), task("assigned", 5), true)!.next).toMatchObject({ status: "assigned", accepted: true });
  });
});
