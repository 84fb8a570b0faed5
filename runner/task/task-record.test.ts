import { describe, expect, it, vi } from "vitest";
import { assignmentOf } from "../testing/fixtures.ts";
import { Journal } from "./journal.ts";
import { RECENT_EVENTS, TaskRecord } from "./task-record.ts";

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

  it("answers unacked events as the journal does, from memory for the latest ones", () => {
    const journal = new Journal(":memory:");
    const record = new TaskRecord(journal, journal.addTask(assignmentOf("t1", 2), "/w"));
    const text = (i: number) => ({ type: "agent.text" as const, data: { turn: 0, text: String(i) } });
    const total = RECENT_EVENTS + 40;
    for (let i = 1; i <= total; i += 2) record.append([text(i), text(i + 1)], { wseq: i + 1 });
    record.ack(10);
    const fromJournal = (after: number, limit: number) => journal.unacked("t1", 2, after, limit);
    for (const after of [0, 5, 10, 11, total - RECENT_EVENTS - 1, total - RECENT_EVENTS, total - 2, total - 1, total, total + 3]) {
      for (const limit of [1, 3, 500]) expect(record.unacked(after, limit), `after ${after}, limit ${limit}`).toEqual(fromJournal(after, limit));
    }

    const read = vi.spyOn(journal, "unacked");
    record.append([text(total + 1)], {});
    expect(record.unacked(total, 100).map((e) => e.rseq)).toEqual([total + 1]);
    expect(read).not.toHaveBeenCalled();
    record.ack(total + 1);
    expect(record.unacked(total, 100)).toEqual([]);
    expect(read).toHaveBeenCalledTimes(1);
  });
});
