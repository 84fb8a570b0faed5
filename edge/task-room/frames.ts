/**
 * Internal to the TaskRoom: the fast path for event frames. They are built as text from the
 * stored event JSON, so an event is serialized once and the same text goes to every viewer;
 * the `FrameText` type records which frame the text is, so only these builders and
 * `frameText` make one.
 */
import { LIMITS, type EdgeToViewer } from "../../shared/index.ts";
import type { StoredEvent } from "./store.ts";

/** The JSON text of a frame of union `F`. */
export type FrameText<F> = string & { readonly __frame: F };

/** Serializes a frame once, for sending to many sockets. */
export function frameText<F>(frame: F): FrameText<F> {
  return JSON.stringify(frame) as FrameText<F>;
}

/** `{type:"event"}` for one event, `{type:"events"}` for several. */
export function eventsFrame(events: readonly StoredEvent[]): FrameText<EdgeToViewer> {
  if (events.length === 1) return `{"type":"event","event":${events[0]!.json}}` as FrameText<EdgeToViewer>;
  return manyEventsFrame(events.map((e) => e.json));
}

function manyEventsFrame(json: readonly string[]): FrameText<EdgeToViewer> {
  return `{"type":"events","events":[${json.join(",")}]}` as FrameText<EdgeToViewer>;
}

/** Splits events into `{type:"events"}` frames of bounded count and size. */
export function replayFrames(events: readonly StoredEvent[]): FrameText<EdgeToViewer>[] {
  const frames: FrameText<EdgeToViewer>[] = [];
  let batch: string[] = [];
  let bytes = 0;
  for (const event of events) {
    if (batch.length > 0 && (batch.length >= LIMITS.replayFrameEvents || bytes + event.json.length > LIMITS.replayFrameBytes)) {
      frames.push(manyEventsFrame(batch));
      batch = [];
      bytes = 0;
    }
    batch.push(event.json);
    bytes += event.json.length;
  }
  if (batch.length > 0) frames.push(manyEventsFrame(batch));
  return frames;
}
