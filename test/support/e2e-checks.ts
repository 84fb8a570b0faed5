/**
 * The checks every end-to-end suite makes of a task's log: no gap, no repeat, statuses in
 * order, a command's whole output.
 */
import { expect } from "vitest";
import { AGENT_EVENT_TYPES, type Event } from "../../shared/events.ts";
import { describeEvents } from "./viewer-socket.ts";

/** `seq` runs 1, 2, 3 … with no gap and no repeat. */
export function expectContiguous(events: Event[]): void {
  const seqs = events.map((e) => e.seq);
  expect(seqs, `seq not contiguous:\n${describeEvents(events)}`).toEqual(seqs.map((_, i) => i + 1));
}

/** The statuses of a log, in order. */
export function statusesOf(events: Event[]): string[] {
  return events.filter((e) => e.type === "status").map((e) => String(e.data.status));
}

/** Agent events that would be a repeat: a second tool.start or tool.end of one call, a second agent.text, a line of output twice. */
export function repeatedAgentEvents(events: Event[]): string[] {
  const seen = new Set<string>();
  const repeats: string[] = [];
  for (const e of events) {
    if (!(AGENT_EVENT_TYPES as readonly string[]).includes(e.type) || e.type === "agent.text.delta" || e.type === "usage") continue;
    const key = e.type === "tool.start" || e.type === "tool.end" ? `${e.type} ${String(e.data.callID)}` : `${e.type} ${JSON.stringify(e.data)}`;
    if (seen.has(key)) repeats.push(`${e.seq} ${key}`);
    seen.add(key);
  }
  return repeats;
}

/** The text a tool call printed, joined from its `tool.output` events. */
export function outputOf(events: Event[], callID: string): string {
  return events
    .filter((e) => e.type === "tool.output" && e.data.callID === callID)
    .map((e) => String(e.data.text))
    .join("");
}
