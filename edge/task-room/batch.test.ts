import { describe, expect, it } from "vitest";
import { newTaskRecord, type RunnerEvent } from "../../shared/index.ts";
import { HeldFrames, applyRunnerEvent, prepareBatch, walkFrames, type PreparedEvent, type TaskChange } from "./batch.ts";

const TS = "2026-01-02T03:04:05Z";
const log = (rseq: number): RunnerEvent => ({ rseq, ts: TS, type: "log", data: { level: "info", message: `m${rseq}` } });
const status = (rseq: number, s: "running" | "succeeded"): RunnerEvent => ({ rseq, ts: TS, type: "status", data: { status: s } });

function prepared(events: RunnerEvent[]): PreparedEvent[] {
  const result = prepareBatch("tsk_1", events);
  if (!result.ok) throw new Error(result.error.message);
  return result.events;
}

describe("prepareBatch", () => {
  it("serializes data once and normalizes ts to ISO", () => {
    const [event] = prepared([log(1)]);
    expect(event).toMatchObject({ rseq: 1, ts: "2026-01-02T03:04:05.000Z", dataJSON: '{"level":"info","message":"m1"}' });
  });

  it("refuses the whole batch for oversized data, a ts that is no date, or a status a runner may not set", () => {
    const big: RunnerEvent = { rseq: 2, ts: TS, type: "tool.output", data: { callID: "c", stream: "stdout", text: "é".repeat(33_000) } };
    expect(prepareBatch("tsk_1", [log(1), big])).toMatchObject({ ok: false, error: { code: "payload_too_large" } });
    expect(prepareBatch("tsk_1", [{ ...log(1), ts: "soon" }])).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
    const lost = { rseq: 1, ts: TS, type: "status", data: { status: "lost" } } as RunnerEvent;
    expect(prepareBatch("tsk_1", [lost])).toMatchObject({ ok: false, error: { code: "invalid_frame" } });
  });
});

describe("walkFrames", () => {
  it("takes frames that arrived in reverse order in counter order", () => {
    const walk = walkFrames("tsk_1", [prepared([log(6), log(7)]), prepared([log(4), log(5)]), prepared([log(2), log(3)])], 1, "running");
    expect(walk.accept.map((e) => e.rseq)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(walk).toMatchObject({ maxRseq: 7, waiting: [], stop: null });
  });

  it("drops repeats and leaves what lies beyond a gap waiting", () => {
    const walk = walkFrames("tsk_1", [prepared([log(1), log(2), log(3), log(5), log(6)])], 2, "running");
    expect(walk.accept.map((e) => e.rseq)).toEqual([3]);
    expect(walk.maxRseq).toBe(3);
    expect(walk.waiting.map((f) => f.map((e) => e.rseq))).toEqual([[5, 6]]);
  });

  it("stops at a change after a terminal status, keeping what came before", () => {
    const walk = walkFrames("tsk_1", [prepared([log(1), status(2, "succeeded"), log(3)])], 0, "running");
    expect(walk.accept.map((e) => e.rseq)).toEqual([1, 2]);
    expect(walk.stop).toMatchObject({ code: "task_finished" });
    expect(walkFrames("tsk_1", [prepared([log(4)])], 3, "failed").accept).toEqual([]);
  });
});

describe("applyRunnerEvent", () => {
  it("folds egress events into the record's totals: attempts allowed and denied, bytes", () => {
    const task = newTaskRecord("tsk_1", { repo: { url: "https://git.test/r.git" }, prompt: "p" }, "u1");
    expect(task.egress).toBeUndefined();
    const egress = (rseq: number, allowed: boolean, bytes: number): RunnerEvent => ({ rseq, ts: TS, type: "egress", data: { phase: "setup", host: "registry.test", port: 443, allowed, bytes } });
    const change: TaskChange = { status: false, summary: false };
    for (const event of prepared([egress(1, true, 1200), egress(2, false, 0), egress(3, true, 300)])) applyRunnerEvent(task, event, change);
    expect(task.egress).toEqual({ allowed: 2, denied: 1, bytes: 1500 });
    expect(change).toEqual({ status: false, summary: true });
  });
});

describe("HeldFrames", () => {
  it("gives back what it holds for the same epoch only, once", () => {
    const held = new HeldFrames();
    expect(held.hold(2, [prepared([log(5)])])).toBe(true);
    expect(held.take(1)).toEqual([]);
    expect(held.hold(2, [prepared([log(5)])])).toBe(true);
    expect(held.take(2).map((f) => f[0]!.rseq)).toEqual([5]);
    expect(held.take(2)).toEqual([]);
  });

  it("holds nothing past its bound", () => {
    const held = new HeldFrames();
    const frames = Array.from({ length: HeldFrames.MAX_FRAMES + 1 }, (_, i) => prepared([log(10 + i)]));
    expect(held.hold(1, frames)).toBe(false);
    expect(held.take(1)).toEqual([]);
  });
});
