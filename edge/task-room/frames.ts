/**
 * Internal to the TaskRoom: outgoing frames built as strings from stored event JSON, so an
 * event is serialized once and the same string goes to every viewer.
 */
import type { StoredEvent } from "./store.ts";

/** Events in one replay frame, and the bytes it aims to stay under. */
export const REPLAY_BATCH_EVENTS = 500;
export const REPLAY_BATCH_BYTES = 1024 * 1024;

/** `{type:"event"}` for one event, `{type:"events"}` for several. */
export function eventsFrame(events: readonly StoredEvent[]): string {
  if (events.length === 1) return `{"type":"event","event":${events[0]!.json}}`;
  return `{"type":"events","events":[${events.map((e) => e.json).join(",")}]}`;
}

/** Splits events into `{type:"events"}` frames of bounded count and size. */
export function replayFrames(events: readonly StoredEvent[]): string[] {
  const frames: string[] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const event of events) {
    if (batch.length > 0 && (batch.length >= REPLAY_BATCH_EVENTS || bytes + event.json.length > REPLAY_BATCH_BYTES)) {
      frames.push(`{"type":"events","events":[${batch.join(",")}]}`);
      batch = [];
      bytes = 0;
    }
    batch.push(event.json);
    bytes += event.json.length;
  }
  if (batch.length > 0) frames.push(`{"type":"events","events":[${batch.join(",")}]}`);
  return frames;
}
