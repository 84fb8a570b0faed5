import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Assignment } from "../../shared/protocol.ts";
import { Journal, OutboxFullError } from "./journal.ts";
import { assignmentOf } from "../testing/fixtures.ts";
import { testDir } from "../testing/temp-dir.ts";

const text = (t: string) => ({ type: "agent.text" as const, data: { turn: 0, text: t } });

describe("Journal", () => {
  it("numbers events per task from 1 and keeps them until acked", () => {
    const j = new Journal(":memory:");
    j.addTask(assignmentOf("t1"), "/w/t1");
    j.addTask(assignmentOf("t2"), "/w/t2");
    const a = j.append("t1", [text("a"), text("b")]);
    const b = j.append("t2", [text("x")]);
    const c = j.append("t1", [text("c")]);
    expect(a.map((e) => e.rseq)).toEqual([1, 2]);
    expect(b.map((e) => e.rseq)).toEqual([1]);
    expect(c.map((e) => e.rseq)).toEqual([3]);
    expect(j.pendingCount).toBe(4);
    expect(j.unacked("t1", 1, 0, 10).map((e) => e.data)).toEqual([{ turn: 0, text: "a" }, { turn: 0, text: "b" }, { turn: 0, text: "c" }]);
    expect(j.ack("t1", 1, 2)).toBe(2);
    expect(j.unacked("t1", 1, 0, 10).map((e) => e.rseq)).toEqual([3]);
    expect(j.pendingCount).toBe(2);
    expect(j.ack("t1", 2, 3)).toBe(0);
  });

  it("survives a reopen with tasks, counters and outbox intact (replay after a crash)", () => {
    const path = join(testDir("tether-journal-"), "journal.db");
    const j = new Journal(path);
    j.addTask(assignmentOf("t1", 3), "/w/t1");
    j.update("t1", { containerID: "c1", status: "running", lastCommandSeq: 4 });
    j.update("t1", { meta: { baseRef: "abc" } });
    j.update("t1", { meta: { baseRef: "abc", branch: "tether/t1" } });
    j.append("t1", [text("a")], { wseq: 1 });
    j.append("t1", [text("b")], { wseq: 2 });
    j.ack("t1", 3, 1);
    j.close();
    const again = new Journal(path);
    expect(again.journalMode()).toBe("wal");
    const row = again.task("t1")!;
    expect(row).toMatchObject({ epoch: 3, containerID: "c1", status: "running", lastWseq: 2, nextRseq: 3, lastCommandSeq: 4 });
    expect(row.assignment.task.id).toBe("t1");
    expect(row.meta).toEqual({ baseRef: "abc", branch: "tether/t1" });
    expect(again.pendingCount).toBe(1);
    expect(again.unacked("t1", 3, 0, 10).map((e) => e.rseq)).toEqual([2]);
    again.close();
  });

  it("moves lastWseq only forward and marks the final event", () => {
    const j = new Journal(":memory:");
    j.addTask(assignmentOf("t1"), "/w");
    j.append("t1", [text("a")], { wseq: 5 });
    j.append("t1", [], { wseq: 3 });
    expect(j.task("t1")!.lastWseq).toBe(5);
    j.append("t1", [{ type: "status", data: { status: "succeeded" } }], { final: true });
    expect(j.task("t1")).toMatchObject({ finalRseq: 2, status: "finished" });
  });

  it("refuses to grow past its bound and writes nothing then", () => {
    const j = new Journal(":memory:", 3);
    j.addTask(assignmentOf("t1"), "/w");
    j.append("t1", [text("a"), text("b")]);
    expect(() => j.append("t1", [text("c"), text("d")])).toThrow(OutboxFullError);
    expect(j.task("t1")!.nextRseq).toBe(3);
    j.append("t1", [text("c")]);
    expect(j.isFull).toBe(true);
    j.ack("t1", 1, 3);
    expect(j.isFull).toBe(false);
  });

  it("replaces an older epoch of a task and its outbox on reassignment", () => {
    const j = new Journal(":memory:");
    j.addTask(assignmentOf("t1", 1), "/w");
    j.append("t1", [text("old")]);
    const next: Assignment = assignmentOf("t1", 2);
    j.addTask(next, "/w");
    expect(j.task("t1")).toMatchObject({ epoch: 2, nextRseq: 1 });
    expect(j.pendingCount).toBe(0);
    j.removeTask("t1");
    expect(j.tasks()).toEqual([]);
  });
});
