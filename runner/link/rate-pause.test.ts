import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FakeEdge } from "../testing/fake-edge.ts";
import { assignmentOf } from "../testing/fixtures.ts";
import { Journal } from "../task/index.ts";
import { ControlLink } from "./control-link.ts";
import { RatePause } from "./rate-pause.ts";
import { TaskChannel } from "./task-channel.ts";

const logger = pino({ level: "silent" });
const RATE_PAUSE = { baseMs: 20, capMs: 200, quietMs: 1000 };

describe("RatePause", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pauses once per burst of refusals, doubles the pause after each one, and starts over after a quiet spell", () => {
    const resume = vi.fn();
    const pause = new RatePause({ baseMs: 100, capMs: 300, quietMs: 5000, random: () => 1 }, resume);
    expect(pause.paused).toBe(false);
    expect(pause.slow).toBe(false);
    expect(pause.refused()).toBe(100);
    expect(pause.refused()).toBeNull();
    expect(pause.paused).toBe(true);
    vi.advanceTimersByTime(100);
    expect(resume).toHaveBeenCalledTimes(1);
    expect(pause.paused).toBe(false);
    expect(pause.slow).toBe(true);
    expect(pause.refused()).toBe(200);
    vi.advanceTimersByTime(200);
    expect(pause.refused()).toBe(300);
    vi.advanceTimersByTime(300);
    expect(resume).toHaveBeenCalledTimes(3);
    vi.advanceTimersByTime(5000);
    expect(pause.slow).toBe(false);
    expect(pause.refused()).toBe(100);
  });

  it("never resumes after cancel", () => {
    const resume = vi.fn();
    const pause = new RatePause({ baseMs: 100, capMs: 100, quietMs: 1000 }, resume);
    pause.refused();
    pause.cancel();
    vi.advanceTimersByTime(1000);
    expect(resume).not.toHaveBeenCalled();
    expect(pause.paused).toBe(false);
  });
});

describe("the runner's links when the edge answers rate_limited", () => {
  let edge: FakeEdge;
  let url: string;
  beforeEach(async () => {
    edge = new FakeEdge();
    url = await edge.listen();
  });
  afterEach(async () => {
    await edge.close();
  });

  /** Task t1 (epoch 1) in an in-memory journal, and its data channel to the fake edge, sending batches of at most `batchMaxEvents`. */
  function journalChannel(batchMaxEvents: number): { journal: Journal; channel: TaskChannel } {
    const journal = new Journal(":memory:");
    journal.addTask(assignmentOf("t1"), "/w");
    const channel = new TaskChannel(
      {
        edgeURL: url,
        credential: edge.credential,
        taskID: "t1",
        epoch: 1,
        outbox: { lastCommandSeq: 0, unacked: (after, limit) => journal.unacked("t1", 1, after, limit), ack: (rseq) => journal.ack("t1", 1, rseq) },
        logger,
        batchMaxEvents,
        batchMaxMs: 1,
        ratePause: RATE_PAUSE,
      },
      { commands: () => {}, acked: () => {}, refused: () => {}, fatal: () => {} },
    );
    return { journal, channel };
  }

  it("a task's data socket pauses, then sends again the events the edge dropped: each one stored once, in order", async () => {
    const { journal, channel } = journalChannel(1);
    // The edge drops the 4th to 10th events frames, as it drops those over a socket's rate; the later ones find a gap.
    let framesSeen = 0;
    edge.refuse = (_socket, frame) => frame.type === "events" && ++framesSeen >= 4 && framesSeen <= 10;
    channel.start();
    await edge.until(() => channel.isAttached, 5000, "attached");
    const events = journal.append("t1", Array.from({ length: 30 }, (_, i) => ({ type: "agent.text" as const, data: { turn: 0, text: `e${i}` } })));
    channel.notify(events.at(-1)!.rseq);
    await edge.until(() => edge.task("t1").events.length === 30 && journal.pendingCount === 0, 10_000, "all 30 events stored and acked");
    expect(edge.refused).toHaveLength(7);
    expect(edge.task("t1").events.map((e) => e.rseq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    await channel.stop();
    journal.close();
  });

  it("a data socket whose attach the edge dropped says attach again after the pause", async () => {
    const { journal, channel } = journalChannel(10);
    let attaches = 0;
    edge.refuse = (_socket, frame) => frame.type === "attach" && ++attaches === 1;
    channel.start();
    await edge.until(() => channel.isAttached, 5000, "attached after the dropped attach");
    expect(edge.refused.map((r) => r.frame.type)).toEqual(["attach"]);
    expect(edge.dataConnects).toBe(1);
    await channel.stop();
    journal.close();
  });

  it("the control socket pauses, then says hello again and sends again the accepts of held tasks and the rejects the edge dropped", async () => {
    const held = [{ taskID: "t1", epoch: 1 }];
    const link = new ControlLink(
      { edgeURL: url, credential: edge.credential, version: "test", labels: ["linux"], capacity: () => 1, held: () => held, draining: () => null, logger, ratePause: RATE_PAUSE },
      { welcome: () => {}, assign: () => {}, revoke: () => {}, fatal: () => {} },
    );
    link.start();
    await edge.until(() => link.state === "connected", 5000, "welcome");
    // The edge drops the next three answers; t3 is no longer held when the pause ends.
    edge.refuse = (_socket, frame) => (frame.type === "accept" || frame.type === "reject") && edge.refused.length < 3;
    link.accept("t1", 1);
    link.accept("t3", 1);
    link.reject("t2", 1, "at capacity");
    await edge.until(() => edge.framesOf("accept").length === 1 && edge.framesOf("reject").length === 1, 5000, "the dropped answers sent again");
    expect(edge.refused).toHaveLength(3);
    expect(edge.framesOf("hello")).toHaveLength(2);
    expect(edge.framesOf("accept")).toEqual([{ type: "accept", taskID: "t1", epoch: 1 }]);
    expect(edge.framesOf("reject")).toEqual([{ type: "reject", taskID: "t2", epoch: 1, reason: "at capacity" }]);
    await link.stop();
  });
});
