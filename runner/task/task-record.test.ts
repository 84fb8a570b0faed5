import { describe, expect, it } from "vitest";
import { assignmentOf } from "../testing/fixtures.ts";
import { Journal } from "./journal.ts";
import { TaskRecord } from "./task-record.ts";

describe("TaskRecord", () => {
  it("writes every change through to the journal and keeps the counters the journal moves", () => {
    const journal = new Journal(":memory:");
    const record = new TaskRecord(journal, journal.addTask(assignmentOf("t1", 2), "/w"));
    record.update({ status: "running", lastCommandSeq: 4 });
    record.updateMeta({ baseRef: "abc" });
    record.updateMeta({ branch: "tether/t1" });
    record.append([{ type: "agent.text", data: { turn: 0, text: "a" } }], { wseq: 7 });
    const final = record.append([{ type: "status", data: { status: "succeeded" } }], { final: true });
    expect(record.meta).toEqual({ baseRef: "abc", branch: "tether/t1" });
    expect(record.lastCommandSeq).toBe(4);
    expect(record.finalRseq).toBe(final[0]!.rseq);
    expect(journal.task("t1")).toMatchObject({ status: "finished", lastCommandSeq: 4, lastWseq: 7, finalRseq: 2, meta: { baseRef: "abc", branch: "tether/t1" } });
    expect(record.unacked(0, 10).map((e) => e.rseq)).toEqual([1, 2]);
    expect(record.ack(1)).toBe(1);
    record.remove();
    expect(journal.task("t1")).toBeUndefined();
    expect(journal.pendingCount).toBe(0);
  });
});
