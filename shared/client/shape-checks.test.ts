import { describe, expect, it } from "vitest";
import { EVENT_TYPES } from "../events.ts";
import { SHAPE_CHECKS } from "./shape-checks.ts";
import { ZOD_CHECKS } from "./zod-checks.ts";

const task = { id: "t1", prompt: "p" };
const event = { seq: 1, ts: "2026-11-30T08:00:00.000Z", type: "log", data: { level: "info", message: "hi" } };

describe("SHAPE_CHECKS", () => {
  it("accepts answers that hold their envelope's field and rejects those that do not", () => {
    expect(SHAPE_CHECKS.answer("TaskEnvelope", { task })).toEqual({ ok: true, value: { task } });
    expect(SHAPE_CHECKS.answer("TaskPage", { tasks: [], nextCursor: null }).ok).toBe(true);
    expect(SHAPE_CHECKS.answer("ErrorBody", { error: { code: "x", message: "y" } }).ok).toBe(true);
    expect(SHAPE_CHECKS.answer("TaskEnvelope", { tasks: [] }).ok).toBe(false);
    expect(SHAPE_CHECKS.answer("TaskPage", { tasks: null }).ok).toBe(false);
    expect(SHAPE_CHECKS.answer("RunnerList", [1, 2]).ok).toBe(false);
    expect(SHAPE_CHECKS.answer("Health", "ok").ok).toBe(false);
  });

  it("accepts every frame the zod schema accepts here, and rejects unknown types and frames missing what their handling reads", () => {
    const good = [
      { type: "event", event },
      { type: "events", events: [event, { ...event, seq: 2 }] },
      { type: "replayed", lastSeq: 0, status: "running" },
      { type: "pong" },
      { type: "error", code: "not_found", message: "no such task" },
    ];
    for (const frame of good) {
      expect(ZOD_CHECKS.frame(frame).ok, JSON.stringify(frame)).toBe(true);
      expect(SHAPE_CHECKS.frame(frame).ok, JSON.stringify(frame)).toBe(true);
    }
    const bad = [
      null,
      [],
      { type: "mystery" },
      { type: "toString" },
      { type: "event" },
      { type: "event", event: { ...event, data: "text" } },
      { type: "events", events: [event, { seq: -1, ts: "t", type: "log", data: {} }] },
      { type: "replayed", lastSeq: "3", status: "running" },
      { type: "error", code: "x" },
    ];
    for (const frame of bad) {
      expect(ZOD_CHECKS.frame(frame).ok, JSON.stringify(frame)).toBe(false);
      expect(SHAPE_CHECKS.frame(frame).ok, JSON.stringify(frame)).toBe(false);
    }
  });

  it("knows every event type of the catalog and no other", () => {
    for (const type of EVENT_TYPES) expect(SHAPE_CHECKS.event({ type, data: {} }).ok, type).toBe(true);
    expect(SHAPE_CHECKS.event({ type: "future.thing", data: {} }).ok).toBe(false);
    expect(SHAPE_CHECKS.event({ type: "constructor", data: {} }).ok).toBe(false);
    expect(SHAPE_CHECKS.event({ type: "log", data: null }).ok).toBe(false);
  });
});
