/**
 * A task's limits as a hostile task author meets them, on fakes: the wall-clock limit freezes
 * a worker that never finishes (its tools may sleep forever) and, unraised, ends the task, and
 * the outbox's memory stays bounded when the edge stops acking (the worker's output is paused
 * instead).
 */
import { describe, expect, it } from "vitest";
import type { RunnerEvent } from "../shared/protocol.ts";
import { assign, daemon, edge, sandbox, started, types, useDaemonHarness } from "./testing/daemon-harness.ts";
import { assignmentOf } from "./testing/fixtures.ts";

useDaemonHarness();

describe("task limits", () => {
  it("wall-clock limit: a worker stuck in a tool is frozen at timeoutMinutes; unraised within the pause bound, the task fails with the reason, diff kept", async () => {
    // A minute of 30 ms: the limit of 1 minute passes at once, whatever the worker does.
    const d = daemon({ minuteMs: 30, budgetPauseMs: 200 });
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { limits: { timeoutMinutes: 1 } }) });
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker start");
    const w = sandbox.worker("t1")!;
    w.emit("tool.start", { turn: 0, toolUseID: "tu1", name: "bash", input: { command: "sleep 100000" } });
    await edge.until(() => types("t1").includes("budget.reached"), 5000, "paused at the wall-clock limit");
    expect(w.frozen).toBe(true);
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed at the end of the pause");
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ status: "failed", reason: "wall-clock limit of 1 min reached; the limit was not raised within 200 ms" });
    expect(types("t1")).toContain("diff");
    expect(w.stopGrace).toBe(10_000);
  });

  it("outbox memory flood: with the journal's outbox full and the edge not acking, the worker's output is paused at the memory bound, then read on after acks, nothing lost", async () => {
    edge.holdAcks = true;
    const d = daemon({ outboxMax: 5, outboxHeldMax: 10 });
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    let sent = 0;
    while (!w.paused && sent < 1000) w.emit("agent.text.delta", { turn: 0, text: `d${sent++}` });
    // The journal holds 5 (a log, the running status, 3 deltas), memory 10 more: then the pause.
    expect(w.paused).toBe(true);
    expect(sent).toBe(13);
    edge.holdAcks = false;
    edge.ackAll("t1");
    await edge.until(() => edge.task("t1").events.length === 15 && !w.paused, 5000, "the rest after acks, output read on");
    const deltas = edge.task("t1").events.filter((e) => e.type === "agent.text.delta").map((e) => (e as RunnerEvent & { data: { text: string } }).data.text);
    expect(deltas).toEqual(Array.from({ length: 13 }, (_, i) => `d${i}`));
  });
});
