import { describe, expect, it } from "vitest";
import type { RunnerEvent } from "../shared/protocol.ts";
import { assign, daemon, edge, forgetDaemon, proxy, sandbox, started, types, useDaemonHarness } from "./testing/daemon-harness.ts";
import { FakeWorker } from "./testing/fakes.ts";

useDaemonHarness();

describe("Daemon after a restart", () => {
  it("recovers after a crash: re-attaches the worker, drops replayed lines, every event arrives once and in order", async () => {
    edge.holdAcks = true;
    const d1 = daemon();
    await started(d1);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    for (let i = 0; i < 5; i++) w.emit("agent.text.delta", { turn: 0, text: `d${i}` });
    await edge.until(() => edge.task("t1").events.length === 7, 5000, "7 stored, none acked");
    // The edge stored only 4 before the crash; the runner dies without acks for any.
    edge.task("t1").events.splice(4);
    await d1.stop();
    forgetDaemon(d1);
    // While the runner is down the worker keeps writing.
    w.emit("agent.text.delta", { turn: 0, text: "d5" });
    sandbox.surviving = [w];
    edge.holdAcks = false;
    const d2 = daemon();
    await started(d2);
    await edge.until(() => proxy.registered.get("t1")!.resume.token === "tok-t1", 5000, "proxy registered again with the worker's token");
    w.emit("done", { ok: true, summary: "ok" });
    await edge.until(() => types("t1").includes("status:succeeded"), 5000, "succeeded after restart");
    const events = edge.task("t1").events;
    expect(events.map((e) => e.rseq)).toEqual(events.map((_, i) => i + 1));
    const deltas = events.filter((e) => e.type === "agent.text.delta").map((e) => (e as RunnerEvent & { data: { text: string } }).data.text);
    expect(deltas).toEqual(["d0", "d1", "d2", "d3", "d4", "d5"]);
    expect(types("t1").filter((t) => t === "done")).toHaveLength(1);
    expect(edge.framesOf("hello").at(-1)).toMatchObject({ tasks: [{ taskID: "t1", epoch: 1 }] });
    await edge.until(() => d2.tasks.size === 0 && w.removed, 5000, "cleanup");
  });

  it("finishes a task whose worker was done and exited while the runner was down", async () => {
    const d1 = daemon();
    await started(d1);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    w.emit("agent.text", { turn: 0, text: "before" });
    await edge.until(() => types("t1").includes("agent.text"), 5000, "first text");
    await d1.stop();
    forgetDaemon(d1);
    w.emit("agent.text", { turn: 0, text: "after" });
    w.emit("done", { ok: true, summary: "ok" });
    w.exit({ exitCode: 0, reason: "exited", message: "exited with code 0" });
    sandbox.surviving = [w];
    const d2 = daemon();
    await started(d2);
    await edge.until(() => types("t1").includes("status:succeeded"), 5000, "succeeded");
    expect(types("t1")).toEqual(["log", "status:running", "agent.text", "agent.text", "done", "diff", "status:succeeded"]);
    await edge.until(() => w.removed && d2.tasks.size === 0, 5000, "cleanup");
  });

  it("finishes a cancel the runner was killed in the middle of, the same way, after a restart", async () => {
    const d1 = daemon();
    await started(d1);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    const stop = w.stop.bind(w);
    w.stop = () => new Promise(() => undefined);
    edge.command("t1", { seq: 3, kind: "cancel" });
    await edge.until(() => types("t1").includes("log") && types("t1").filter((t) => t === "log").length === 2, 5000, "stopping");
    await d1.stop();
    forgetDaemon(d1);
    w.stop = stop;
    sandbox.surviving = [w];
    const d2 = daemon();
    await started(d2);
    await edge.until(() => types("t1").includes("status:cancelled"), 5000, "cancelled after restart");
    expect(w.exitInfo).toBeDefined();
    expect(types("t1").filter((t) => t.startsWith("status:"))).toEqual(["status:running", "status:cancelled"]);
  });

  it("removes workers of no journaled task at start-up and fails a running task whose worker vanished", async () => {
    const d1 = daemon();
    await started(d1);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    await d1.stop();
    forgetDaemon(d1);
    const stray = new FakeWorker("stray", "c99", sandbox.worker("t1")!.sink, sandbox.worker("t1")!.spec);
    sandbox.surviving = [stray];
    const d2 = daemon();
    await started(d2);
    expect(sandbox.orphansRemoved).toEqual(["stray"]);
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect((edge.task("t1").events.at(-1)!.data as { reason: string }).reason).toContain("did not survive");
  });
});
