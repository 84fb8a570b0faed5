/**
 * A reached budget on fakes: the proxy's refusal or the wall clock pauses the task in
 * `waiting` with one `budget.reached`; the edge's `limits` command applies the raise to the
 * proxy, thaws a frozen worker, tells the worker `budget.raised`, and the task goes on; a
 * cancel ends a paused task; a runner restart keeps the pause.
 */
import { describe, expect, it } from "vitest";
import { assign, daemon, edge, forgetDaemon, proxy, sandbox, started, types, useDaemonHarness } from "./testing/daemon-harness.ts";
import { assignmentOf } from "./testing/fixtures.ts";

useDaemonHarness();

describe("budget pause", () => {
  it("a refused call pauses the task with budget.reached; the raise reaches the proxy and the worker, and the task runs on", async () => {
    const d = daemon({ idleMs: 50 });
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { limits: { maxTurns: 2, maxTokens: 5000 } }) });
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    proxy.registered.get("t1")!.onRefusal({ limit: "maxTurns", reason: "turn budget spent: 2 of 2 model calls made" }, { limits: { maxTurns: 2, maxTokens: 5000 }, spent: { maxTurns: 2, maxTokens: 1200 }, remaining: { maxTurns: 0, maxTokens: 3800 } });
    await edge.until(() => types("t1").includes("status:waiting"), 5000, "waiting");
    const reached = edge.task("t1").events.find((e) => e.type === "budget.reached")!;
    expect(reached.data).toEqual({ limit: "maxTurns", reason: "turn budget spent: 2 of 2 model calls made", limits: { maxTurns: 2, maxTokens: 5000 }, spent: { maxTurns: 2, maxTokens: 1200 }, remaining: { maxTurns: 0, maxTokens: 3800 } });
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ status: "waiting", reason: expect.stringMatching(/raise the limit/) });
    // The idle bound (50 ms) does not end a task paused at a budget: the next event is the raise's.
    edge.command("t1", { seq: 5, kind: "limits", limits: { maxTurns: 4, maxTokens: 5000 } });
    await edge.until(() => w.received.some((m) => m.type === "budget.raised"), 5000, "budget.raised to the worker");
    expect(proxy.raises).toEqual([{ taskID: "t1", limits: { maxTurns: 4, maxTokens: 5000 }, startedAt: expect.any(Number) }]);
    expect(proxy.registered.get("t1")!.budget).toMatchObject({ maxTurns: 4 });
    expect(types("t1")).toEqual(["log", "status:running", "budget.reached", "status:waiting", "status:running"]);
    w.emit("done", { ok: true, summary: "did it" });
    await edge.until(() => types("t1").includes("status:succeeded"), 5000, "succeeded");
  });

  it("the wall clock freezes the worker; a raise of timeoutMinutes thaws it and the task runs on", async () => {
    const d = daemon({ minuteMs: 40 });
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { limits: { timeoutMinutes: 1 } }) });
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    await edge.until(() => types("t1").includes("budget.reached"), 5000, "paused");
    expect(w.frozen).toBe(true);
    expect(edge.task("t1").events.find((e) => e.type === "budget.reached")!.data).toMatchObject({ limit: "timeoutMinutes", limits: { timeoutMinutes: 1 }, spent: { timeoutMinutes: 1 }, remaining: { timeoutMinutes: 0 } });
    edge.command("t1", { seq: 5, kind: "limits", limits: { timeoutMinutes: 1000 } });
    await edge.until(() => types("t1").at(-1) === "status:running", 5000, "running again");
    expect(w.frozen).toBe(false);
    expect(w.stopGrace).toBeUndefined();
    w.emit("done", { ok: true, summary: "did it" });
    await edge.until(() => types("t1").includes("status:succeeded"), 5000, "succeeded");
  });

  it("a task idle after its turn pauses at the wall clock too; a follow-up then starts no worker until the raise", async () => {
    const d = daemon({ minuteMs: 200 });
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { limits: { timeoutMinutes: 1 } }) });
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    w.emit("turn.end", { turn: 0, stopReason: "end_turn" });
    w.exit({ exitCode: 0, reason: "exited", message: "exited with code 0" });
    await edge.until(() => types("t1").includes("budget.reached"), 5000, "paused while idle");
    edge.command("t1", { seq: 5, kind: "message", text: "one more thing" });
    await edge.until(() => types("t1").at(-1) === "log", 5000, "the message refused with a log line");
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ level: "warn", message: expect.stringMatching(/paused at its budget/) });
    expect(sandbox.workers).toHaveLength(1);
    edge.command("t1", { seq: 6, kind: "limits", limits: { timeoutMinutes: 100 } });
    edge.command("t1", { seq: 7, kind: "message", text: "one more thing" });
    await edge.until(() => sandbox.workers.length === 2, 5000, "a new worker after the raise");
    await edge.until(() => sandbox.worker("t1")!.received.some((m) => m.type === "message"), 5000, "the message to the new worker");
  });

  it("a cancel ends a task paused at a budget (its frozen worker stopped)", async () => {
    const d = daemon({ minuteMs: 30 });
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { limits: { timeoutMinutes: 1 } }) });
    await edge.until(() => types("t1").includes("budget.reached"), 5000, "paused");
    edge.command("t1", { seq: 5, kind: "cancel" });
    await edge.until(() => types("t1").includes("status:cancelled"), 5000, "cancelled");
    expect(sandbox.worker("t1")!.stopGrace).toBe(10_000);
  });

  it("a pause survives a runner restart and still runs out at its bound", async () => {
    const first = daemon({ budgetPauseMs: 60_000 });
    await started(first);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    proxy.registered.get("t1")!.onRefusal({ limit: "maxTokens", reason: "token budget spent" }, { limits: {}, spent: {}, remaining: {} });
    await edge.until(() => types("t1").includes("status:waiting"), 5000, "waiting");
    sandbox.surviving = [sandbox.worker("t1")!];
    await first.stop();
    forgetDaemon(first);
    const second = daemon({ budgetPauseMs: 300 });
    await started(second);
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed at the pause bound");
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ status: "failed", reason: "token budget spent; the limit was not raised within 300 ms" });
  });
});
