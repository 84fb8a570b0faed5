/**
 * Splits a worker's stdout into lines and parses each with the shared `WorkerToRunner`
 * schema; used by both sandboxes. Memory stays bounded: a line that grows past the limit is
 * reported once as an error (with its first bytes as `raw`) and the rest of it, up to the next
 * newline, is dropped. Blank lines are skipped; a trailing `\r` is removed.
 */
import { ErrorCode } from "../../shared/errors.ts";
import { LIMITS } from "../../shared/limits.ts";
import { errorFrameOf, parseFrame, WorkerToRunner } from "../../shared/protocol.ts";
import type { WorkerSink } from "../ports.ts";

const NEWLINE = 0x0a;
/** How much of an oversized line is kept to show what it was. */
const PREVIEW_BYTES = 200;

export class WorkerLineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skipping = false;

  constructor(
    private readonly sink: Pick<WorkerSink, "line">,
    private readonly maxBytes: number = LIMITS.maxWorkerLineBytes,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.take(chunk.subarray(start, nl));
      this.finishLine();
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk.subarray(start));
  }

  /** Hands over a last line that had no newline (the worker's output has ended). */
  end(): void {
    this.finishLine();
  }

  private take(part: Buffer): void {
    if (this.skipping || part.length === 0) return;
    if (this.pendingBytes + part.length > this.maxBytes) {
      const preview = Buffer.concat([...this.pending, part]).subarray(0, PREVIEW_BYTES).toString("utf8");
      this.pending = [];
      this.pendingBytes = 0;
      this.skipping = true;
      this.sink.line(
        { ok: false, error: errorFrameOf(ErrorCode.PayloadTooLarge, `worker line is over the ${this.maxBytes} byte limit; dropped`) },
        `${preview}…`,
      );
      return;
    }
    // A chunk is a view into a buffer the stream may reuse: keep a copy.
    this.pending.push(Buffer.from(part));
    this.pendingBytes += part.length;
  }

  private finishLine(): void {
    if (this.skipping) {
      this.skipping = false;
      return;
    }
    if (this.pendingBytes === 0) return;
    let raw = Buffer.concat(this.pending).toString("utf8");
    this.pending = [];
    this.pendingBytes = 0;
    if (raw.endsWith("\r")) raw = raw.slice(0, -1);
    if (raw.trim() === "") return;
    this.sink.line(parseFrame(WorkerToRunner, raw, this.maxBytes), raw);
  }
}
