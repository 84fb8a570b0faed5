import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Command, RunnerEvent } from "../../shared/protocol.ts";
import { CloseCode } from "../../shared/sockets.ts";
import { FakeEdge } from "../testing/fake-edge.ts";
import type { Outbox } from "../ports.ts";
import { Journal } from "../task/index.ts";
import { splitBySize, TaskChannel } from "./task-channel.ts";
import { assignmentOf } from "../testing/fixtures.ts";

const logger = pino({ level: "silent" });
let edge: FakeEdge;
let url: string;
let journal: Journal;

beforeEach(async () => {
  edge = new FakeEdge();
  url = await edge.listen();
  journal = new Journal(":memory:");
  journal.addTask(assignmentOf("t1"), "/w");
});
afterEach(async () => {
  await edge.close();
  journal.close();
});

/** Task t1's outbox straight from the journal, as the task's own outbox reads it. */
const outboxOf = (j: Journal): Outbox => ({
  get lastCommandSeq() {
    return j.task("t1")?.lastCommandSeq ?? 0;
  },
  unacked: (afterRseq, limit) => j.unacked("t1", 1, afterRseq, limit),
  ack: (rseq) => j.ack("t1", 1, rseq),
});

function channel(batchMaxEvents = 100, batchMaxMs = 10) {
  const seen = { commands: [] as Command[], acked: [] as number[], refused: [] as string[], fatal: [] as string[] };
  const ch = new TaskChannel(
    { edgeURL: url, credential: edge.credential, taskID: "t1", epoch: 1, outbox: outboxOf(journal), logger, batchMaxEvents, batchMaxMs, backoff: { baseMs: 10, capMs: 20, stableMs: 60_000 } },
    {
      commands: (c) => seen.commands.push(...c),
      acked: (r) => seen.acked.push(r),
      refused: (code) => seen.refused.push(code),
      fatal: (r) => seen.fatal.push(r),
    },
  );
  ch.start();
  return { ch, seen };
}

const emit = (n: number, from = 0) =>
  journal.append(
    "t1",
    Array.from({ length: n }, (_, i) => ({ type: "agent.text" as const, data: { turn: 0, text: `e${from + i}` } })),
  );

describe("TaskChannel", () => {
  it("batches up to batchMaxEvents per frame and clears the outbox on ack", async () => {
    const { ch } = channel(100, 10);
    await edge.until(() => edge.framesOf("attach").length === 1, 5000, "attach");
    await edge.until(() => ch.isAttached, 5000, "attached");
    const events = emit(250);
    ch.notify(events.at(-1)!.rseq);
    await edge.until(() => edge.task("t1").events.length === 250, 5000, "250 events");
    expect(edge.framesOf("events").map((f) => (f.events as unknown[]).length)).toEqual([100, 100, 50]);
    await edge.until(() => journal.pendingCount === 0, 5000, "outbox empty");
    await ch.stop();
  });

  it("sends a lone event at once and gathers the ones that come while a frame is unacked into the next frame", async () => {
    const { ch } = channel(100, 5000);
    await edge.until(() => ch.isAttached, 5000, "attached");
    for (let i = 0; i < 3; i++) ch.notify(emit(1, i)[0]!.rseq);
    // No timer can have fired (5 s): the first went at once, the ack of it sent the other two.
    await edge.until(() => edge.task("t1").events.length === 3, 2000, "3 events");
    expect(edge.framesOf("events").map((f) => (f.events as unknown[]).length)).toEqual([1, 2]);
    await ch.stop();
  });

  it("waits at most batchMaxMs for an ack before it sends what gathered", async () => {
    const { ch } = channel(100, 30);
    await edge.until(() => ch.isAttached, 5000, "attached");
    edge.holdAcks = true;
    ch.notify(emit(1)[0]!.rseq);
    await edge.until(() => edge.task("t1").events.length === 1, 5000, "the first event");
    for (let i = 1; i < 4; i++) ch.notify(emit(1, i)[0]!.rseq);
    await edge.until(() => edge.task("t1").events.length === 4, 5000, "4 events with no ack");
    expect(edge.framesOf("events").map((f) => (f.events as unknown[]).length)).toEqual([1, 3]);
    await ch.stop();
  });

  it("resends what was not acked after a reconnect, each event stored once and in order", async () => {
    const { ch } = channel(10, 1);
    await edge.until(() => ch.isAttached, 5000, "attached");
    ch.notify(emit(25).at(-1)!.rseq);
    await edge.until(() => edge.task("t1").events.length === 25, 5000, "first 25");
    await edge.until(() => journal.pendingCount === 0, 5000, "acked");
    edge.holdAcks = true;
    ch.notify(emit(15, 25).at(-1)!.rseq);
    await edge.until(() => edge.task("t1").events.length === 40, 5000, "40 stored, unacked");
    expect(journal.pendingCount).toBe(15);
    // The edge stored 30 of them before the link broke: forget the last 10 to act it out.
    edge.task("t1").events.splice(30);
    edge.holdAcks = false;
    edge.data.get("t1")!.terminate();
    await edge.until(() => edge.task("t1").events.length === 40 && journal.pendingCount === 0, 5000, "resume");
    expect(edge.task("t1").events.map((e) => e.rseq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(edge.task("t1").events.map((e) => (e as RunnerEvent & { data: { text: string } }).data.text).at(-1)).toBe("e39");
    expect(edge.framesOf("attach")).toHaveLength(2);
    await ch.stop();
  });

  it("asks for commands after the last applied one and passes new ones on", async () => {
    edge.task("t1").commands.push({ seq: 3, kind: "message", text: "old" }, { seq: 5, kind: "message", text: "new" });
    journal.update("t1", { lastCommandSeq: 3 });
    const { ch, seen } = channel();
    await edge.until(() => seen.commands.length === 1, 5000, "commands from attached");
    expect(edge.framesOf("attach")[0]).toMatchObject({ afterCommandSeq: 3 });
    expect(seen.commands).toEqual([{ seq: 5, kind: "message", text: "new" }]);
    edge.command("t1", { seq: 6, kind: "cancel" });
    await edge.until(() => seen.commands.length === 2, 5000, "live command");
    expect(seen.commands[1]).toEqual({ seq: 6, kind: "cancel" });
    await ch.stop();
  });

  it("ignores bad frames and reports a refusal", async () => {
    const { ch, seen } = channel();
    await edge.until(() => ch.isAttached, 5000, "attached");
    const ws = edge.data.get("t1")!;
    ws.send("not json");
    ws.send(JSON.stringify({ type: "ack", taskID: "t1" }));
    ws.send(JSON.stringify({ type: "command", taskID: "t1", command: { seq: 1, kind: "dance" } }));
    ws.send(JSON.stringify({ v: 9, type: "pong" }));
    ws.send(JSON.stringify({ type: "error", code: "stale_epoch", message: "epoch 1 is over" }));
    await edge.until(() => seen.refused.length === 1, 5000, "refusal");
    expect(seen.refused).toEqual(["stale_epoch"]);
    expect(seen.commands).toEqual([]);
    ch.notify(emit(1)[0]!.rseq);
    await edge.until(() => edge.task("t1").events.length === 1, 5000, "still sending after bad frames");
    await ch.stop();
  });
});

describe("TaskChannel closes", () => {
  it("stops for good when the TaskRoom closes it as replaced", async () => {
    const { ch, seen } = channel();
    await edge.until(() => ch.isAttached, 5000, "attached");
    edge.data.get("t1")!.close(CloseCode.Replaced, "epoch 1 is over");
    await edge.until(() => seen.fatal.length === 1, 5000, "fatal");
    expect(seen.fatal[0]).toContain(String(CloseCode.Replaced));
    await new Promise((r) => setTimeout(r, 100));
    expect(edge.dataConnects).toBe(1);
    await ch.stop();
  });
});

describe("splitBySize", () => {
  it("keeps each frame under the byte budget", () => {
    const big = (rseq: number): RunnerEvent => ({ rseq, ts: "x", type: "agent.text", data: { turn: 0, text: "y".repeat(400) } });
    const frames = splitBySize([big(1), big(2), big(3), big(4), big(5)], 1000);
    expect(frames.map((f) => f.map((e) => e.rseq))).toEqual([[1, 2], [3, 4], [5]]);
  });
});
