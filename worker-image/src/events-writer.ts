/**
 * Writes the worker's stdout: one `{ wseq, type, data }` JSON line per agent event, `wseq`
 * counting on from the start line's `lastWseq`. Every event is checked against the shared
 * schema, and long strings are shortened so no event's data passes `LIMITS.maxEventDataBytes`.
 * Nothing else ever goes to stdout.
 */
import type { Writable } from "node:stream";
import { AgentEventBody } from "../../shared/events.ts";
import { ErrorCode } from "../../shared/errors.ts";
import { LIMITS } from "../../shared/limits.ts";
import { describeIssues } from "../../shared/protocol.ts";

/** Shortens the longest strings in `data` until its JSON fits in `maxBytes`. */
export function fitData(data: Record<string, unknown>, maxBytes: number): Record<string, unknown> {
  let out = data;
  for (let round = 0; round < 8 && Buffer.byteLength(JSON.stringify(out)) > maxBytes; round++) {
    const over = Buffer.byteLength(JSON.stringify(out)) - maxBytes;
    out = shorten(out, over) as Record<string, unknown>;
  }
  return out;
}

function shorten(value: unknown, over: number): unknown {
  if (typeof value === "string") {
    // JSON escapes can make a character count up to six bytes; cut generously.
    const keep = Math.max(0, value.length - over - 200);
    return value.length > 200 ? `${value.slice(0, keep)}…[${value.length - keep} characters cut]` : value;
  }
  if (Array.isArray(value)) return value.map((v) => shorten(v, over));
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    const largest = entries.reduce((best, [k, v]) => (JSON.stringify(v ?? null).length > JSON.stringify((value as Record<string, unknown>)[best] ?? null).length ? k : best), entries[0]?.[0] ?? "");
    return Object.fromEntries(entries.map(([k, v]) => [k, k === largest ? shorten(v, over) : v]));
  }
  return value;
}

export class EventsWriter {
  private wseq: number;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly out: Writable,
    lastWseq = 0,
  ) {
    this.wseq = lastWseq;
  }

  /** Restarts the count: the start line says where it stands. */
  continueFrom(lastWseq: number): void {
    this.wseq = lastWseq;
  }

  get lastWseq(): number {
    return this.wseq;
  }

  emit(event: AgentEventBody): void {
    const data = fitData(event.data as Record<string, unknown>, LIMITS.maxEventDataBytes - 1024);
    const parsed = AgentEventBody.safeParse({ type: event.type, data });
    const body = parsed.success
      ? parsed.data
      : { type: "error" as const, data: { code: ErrorCode.WorkerError, message: `the worker made a bad ${event.type} event: ${describeIssues(parsed.error)}` } };
    this.wseq += 1;
    const line = `${JSON.stringify({ wseq: this.wseq, type: body.type, data: body.data })}\n`;
    this.last = new Promise((resolve) => this.out.write(line, () => resolve()));
  }

  /** Resolves when every line written so far has been handed to the OS. */
  flush(): Promise<void> {
    return this.last;
  }
}
