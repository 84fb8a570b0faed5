import pino from "pino";
import { describe, expect, it } from "vitest";
import { assignmentOf } from "../testing/fixtures.ts";
import { Journal } from "./journal.ts";
import { JournalSpace } from "./journal-space.ts";
import { TaskOutbox } from "./outbox.ts";
import { TaskRecord } from "./task-record.ts";

const logger = pino({ level: "silent" });
const until = async (check: () => boolean, what: string) => {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
};
const diskFull = () => Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });

/** A journal whose writes fail with SQLITE_FULL while `full` holds, as better-sqlite3 throws on a full disk. */
class FullableJournal extends Journal {
  full = false;
  override append(...args: Parameters<Journal["append"]>) {
    if (this.full) throw diskFull();
    return super.append(...args);
  }
  override update(...args: Parameters<Journal["update"]>) {
    if (this.full) throw diskFull();
    return super.update(...args);
  }
  override ack(...args: Parameters<Journal["ack"]>) {
    if (this.full) throw diskFull();
    return super.ack(...args);
  }
  override removeTask(taskID: string) {
    if (this.full) throw diskFull();
    return super.removeTask(taskID);
  }
  override probe() {
    if (this.full) throw diskFull();
    return super.probe();
  }
}

describe("JournalSpace", () => {
  it("keeps writes that fail for want of room, one per key and in order, runs them again until they pass, then probes and says there is room", async () => {
    let room = false;
    const ran: string[] = [];
    const changes: (string | null)[] = [];
    const space = new JournalSpace(() => {
      if (!room) throw diskFull();
      ran.push("probe");
    }, logger, { retryMs: 5, maxRetryMs: 20, changed: (reason) => changes.push(reason) });
    const write = (name: string) => () => {
      if (!room) throw diskFull();
      ran.push(name);
    };
    expect(space.write("a", write("a1"))).toBe(false);
    expect(space.isFull).toBe(true);
    expect(space.reason).toBe("the journal's disk is full (SQLITE_FULL)");
    expect(space.write("b", write("b1"))).toBe(false);
    // A later write under a kept key takes its place (and its turn), untried.
    expect(space.write("a", write("a2"))).toBe(false);
    await new Promise((r) => setTimeout(r, 30));
    expect(ran).toEqual([]);
    room = true;
    await until(() => !space.isFull, "room");
    expect(ran).toEqual(["a2", "b1", "probe"]);
    expect(changes).toEqual(["the journal's disk is full (SQLITE_FULL)", null]);
    expect(space.write("c", write("c1"))).toBe(true);
    space.stop();
  });

  it("throws errors other than a full disk", () => {
    const space = new JournalSpace(() => undefined, logger);
    expect(() =>
      space.write("a", () => {
        throw new Error("SQLITE_CORRUPT");
      }),
    ).toThrow("SQLITE_CORRUPT");
    expect(space.isFull).toBe(false);
  });
});

describe("a task's outbox and record on a full journal disk", () => {
  it("hold events and row changes in memory, lose nothing, and write them in order once there is room", async () => {
    const journal = new FullableJournal(":memory:");
    const space = new JournalSpace(() => journal.probe(), logger, { retryMs: 5, maxRetryMs: 20 });
    const record = new TaskRecord(journal, journal.addTask(assignmentOf("t1", 1), "/w"), space);
    const notified: number[] = [];
    const flow = { paused: false, pause: () => (flow.paused = true), resume: () => (flow.paused = false) };
    const outbox = new TaskOutbox(record, (rseq) => notified.push(rseq), logger, flow, space, 3);
    const text = (i: number) => ({ type: "agent.text" as const, data: { turn: 0, text: `t${i}` } });
    outbox.append([text(1)], { wseq: 1 });
    expect(notified).toEqual([1]);
    journal.full = true;
    for (let i = 2; i <= 4; i++) outbox.append([text(i)], { wseq: i });
    record.update({ status: "running", lastCommandSeq: 7 });
    expect(outbox.ack(1)).toBe(0);
    // Nothing reached the journal, and memory holds it all; at the bound the worker is paused.
    expect(notified).toEqual([1]);
    expect(outbox.heldCount).toBe(3);
    expect(flow.paused).toBe(true);
    expect(record.lastCommandSeq).toBe(7);
    expect(journal.task("t1")).toMatchObject({ status: "preparing", lastCommandSeq: 0, lastWseq: 1 });
    journal.full = false;
    await until(() => !space.isFull, "room");
    expect(outbox.heldCount).toBe(0);
    expect(flow.paused).toBe(false);
    expect(notified).toEqual([1, 2, 3, 4]);
    expect(outbox.unacked(0, 10).map((e) => [e.rseq, (e.data as { text: string }).text])).toEqual([
      [2, "t2"],
      [3, "t3"],
      [4, "t4"],
    ]);
    expect(journal.task("t1")).toMatchObject({ status: "running", lastCommandSeq: 7, lastWseq: 4 });
    space.stop();
  });

  it("a removal waits for room too, after the writes kept before it", async () => {
    const journal = new FullableJournal(":memory:");
    const space = new JournalSpace(() => journal.probe(), logger, { retryMs: 5, maxRetryMs: 20 });
    const record = new TaskRecord(journal, journal.addTask(assignmentOf("t1", 1), "/w"), space);
    journal.full = true;
    record.update({ status: "running" });
    record.remove();
    expect(journal.task("t1")).toBeDefined();
    journal.full = false;
    await until(() => !space.isFull, "room");
    expect(journal.task("t1")).toBeUndefined();
    space.stop();
  });
});
