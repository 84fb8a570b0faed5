import { describe, expect, it } from "vitest";
import { newTaskRecord } from "../../shared/index.ts";
import { pushPayloadOf, reachesBudget, statusPushReason } from "./notice.ts";

describe("statusPushReason", () => {
  it("pushes when a task begins to wait or ends, once per transition", () => {
    expect(statusPushReason("running", "waiting")).toBe("waiting");
    expect(statusPushReason("waiting", "waiting")).toBeNull();
    expect(statusPushReason("running", "succeeded")).toBe("ended");
    expect(statusPushReason("queued", "cancelled")).toBe("ended");
    expect(statusPushReason("assigned", "lost")).toBe("ended");
    expect(statusPushReason("failed", "lost")).toBeNull();
    expect(statusPushReason("waiting", "running")).toBeNull();
    expect(statusPushReason("queued", "assigned")).toBeNull();
  });
});

describe("reachesBudget", () => {
  it("knows a budget_exceeded error and a budget.reached event, nothing else", () => {
    expect(reachesBudget({ type: "error", data: { code: "budget_exceeded", message: "spent" } })).toBe(true);
    expect(reachesBudget({ type: "budget.reached", data: {} })).toBe(true);
    expect(reachesBudget({ type: "error", data: { code: "model_error", message: "x" } })).toBe(false);
    expect(reachesBudget({ type: "log", data: { code: "budget_exceeded" } })).toBe(false);
  });
});

describe("pushPayloadOf", () => {
  it("names the task, says what happened and links the task's page", () => {
    const task = { ...newTaskRecord("tsk_0123456789abcdef", { repo: { url: "/r" }, prompt: "Fix it" }, "u"), status: "failed" as const, statusReason: "tests failed" };
    expect(pushPayloadOf(task, "ended")).toEqual({ taskID: task.id, title: "Fix it", body: "Failed: tests failed", url: "/tasks/tsk_0123456789abcdef" });
    expect(pushPayloadOf(task, "waiting").body).toBe("Waiting for you");
    expect(pushPayloadOf({ ...task, statusReason: null }, "budget").body).toBe("Reached its budget");
    const paused = { ...task, status: "waiting" as const, statusReason: "turn budget spent: 3 of 3 model calls made: raise the limit to go on" };
    expect(pushPayloadOf(paused, "budget").body).toBe("Reached its budget: turn budget spent: 3 of 3 model calls made: raise the limit to go on");
    const asking = { ...task, pendingApproval: { approvalID: "a1", kind: "command" as const, subject: "npm test", requestedAt: "", expiresAt: "" } };
    expect(pushPayloadOf(asking, "approval").body).toBe("Asks for your approval: npm test");
    expect(pushPayloadOf({ ...asking, pendingApproval: { ...asking.pendingApproval, kind: "plan" as const } }, "approval").body).toBe("Asks for your approval: a plan");
  });
});
