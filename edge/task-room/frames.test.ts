import { describe, expect, it } from "vitest";
import { EdgeToRunnerData, EdgeToViewer, LIMITS } from "../../shared/index.ts";
import { eventsFrame, frameText, replayFrames } from "./frames.ts";
import type { StoredEvent } from "./store.ts";

function stored(seq: number, message = "m"): StoredEvent {
  return { seq, json: JSON.stringify({ seq, ts: "2026-01-01T00:00:00.000Z", type: "log", data: { level: "info", message } }) };
}

describe("pre-serialized frames", () => {
  it("builds event frames a viewer parses with EdgeToViewer", () => {
    const one = EdgeToViewer.parse(JSON.parse(eventsFrame([stored(1)])));
    expect(one).toMatchObject({ type: "event", event: { seq: 1 } });
    const many = EdgeToViewer.parse(JSON.parse(eventsFrame([stored(1), stored(2)])));
    expect(many).toMatchObject({ type: "events", events: [{ seq: 1 }, { seq: 2 }] });
  });

  it("splits a replay into events frames within the replay bounds, every event once and in order", () => {
    const count = LIMITS.replayFrameEvents * 2 + 3;
    const frames = replayFrames(Array.from({ length: count }, (_, i) => stored(i + 1)));
    const parsed = frames.map((text) => EdgeToViewer.parse(JSON.parse(text)));
    const seqs = parsed.flatMap((f) => (f.type === "events" ? f.events.map((e) => e.seq) : []));
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    for (const f of parsed) expect(f.type === "events" && f.events.length <= LIMITS.replayFrameEvents).toBe(true);
  });

  it("keeps a replay frame under the byte bound unless one event alone is larger", () => {
    const big = "x".repeat(LIMITS.replayFrameBytes / 3);
    const frames = replayFrames([stored(1, big), stored(2, big), stored(3, big), stored(4, "x".repeat(LIMITS.replayFrameBytes))]);
    expect(frames.length).toBe(3);
    expect(frames.slice(0, 2).every((text) => text.length < LIMITS.replayFrameBytes + 1024)).toBe(true);
  });

  it("serializes a runner frame once for many sockets", () => {
    const text = frameText<EdgeToRunnerData>({ type: "command", taskID: "t", command: { seq: 2, kind: "cancel" } });
    expect(EdgeToRunnerData.parse(JSON.parse(text))).toEqual({ type: "command", taskID: "t", command: { seq: 2, kind: "cancel" } });
  });
});
