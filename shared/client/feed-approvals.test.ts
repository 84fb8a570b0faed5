import { describe, expect, it } from "vitest";
import { EMPTY_FEED, applyEvents } from "./feed.ts";
import type { KnownEvent } from "./task-stream.ts";

let seq = 0;
function e<T extends KnownEvent["type"]>(type: T, data: Extract<KnownEvent, { type: T }>["data"]): KnownEvent {
  seq += 1;
  return { seq, ts: "2026-11-28T01:00:00.000Z", type, data } as KnownEvent;
}

describe("applyEvents: approvals", () => {
  it("keeps a question pending until its answer or its expiry settles it in place", () => {
    let feed = applyEvents(EMPTY_FEED, [
      e("approval.requested", { approvalID: "a1", kind: "command", subject: "npm test" }),
      e("approval.requested", { approvalID: "a2", kind: "write", subject: "a.ts" }),
    ]);
    expect(feed.items).toEqual([
      expect.objectContaining({ kind: "approval", approvalID: "a1", about: "command", subject: "npm test", state: "pending", answer: null }),
      expect.objectContaining({ kind: "approval", approvalID: "a2", state: "pending" }),
    ]);
    const before = feed.items[1];
    feed = applyEvents(feed, [e("approval.answered", { approvalID: "a1", decision: "always", by: "alice" }), e("approval.expired", { approvalID: "a2", afterSeconds: 1800 })]);
    expect(feed.items).toHaveLength(2);
    expect(feed.items[0]).toMatchObject({ state: "answered", answer: { decision: "always", by: "alice", text: null } });
    expect(feed.items[1]).toMatchObject({ state: "expired" });
    expect(feed.items[1]).not.toBe(before);
  });
});
