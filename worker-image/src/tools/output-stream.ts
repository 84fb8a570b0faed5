/**
 * Streams a running command's output as `tool.output` events: decodes UTF-8 across chunk
 * boundaries, replaces control characters, gathers small writes (flushed every 100 ms or
 * when a chunk is full), splits into events of at most `LIMITS.outputChunkBytes` bytes, and
 * stops streaming (with one note saying so) after `maxStreamedBytes` per call.
 */
import { StringDecoder } from "node:string_decoder";
import { LIMITS } from "../../../shared/limits.ts";
import type { Emit } from "./tool.ts";

type Stream = "stdout" | "stderr";

// C0 controls other than tab, newline and carriage return, and DEL: they would bloat every
// event six times over as JSON escapes and mean nothing on a phone.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;

export function cleanOutput(text: string): string {
  return text.replace(CONTROL, "\uFFFD");
}

/** Splits `text` into pieces of at most `maxBytes` UTF-8 bytes, never inside a character. */
export function splitByBytes(text: string, maxBytes: number): string[] {
  const bytes = Buffer.from(text, "utf8");
  const out: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + maxBytes, bytes.length);
    while (end < bytes.length && end > start && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1;
    out.push(bytes.subarray(start, end).toString("utf8"));
    start = end;
  }
  return out;
}

export class OutputStream {
  private readonly decoders = { stdout: new StringDecoder("utf8"), stderr: new StringDecoder("utf8") };
  private readonly pending = { stdout: "", stderr: "" };
  private streamed = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: Emit,
    private readonly callID: string,
    private readonly onText: (text: string) => void,
    private readonly maxStreamedBytes = 1024 * 1024,
  ) {}

  write(stream: Stream, chunk: Buffer): void {
    const text = cleanOutput(this.decoders[stream].write(chunk));
    if (text === "") return;
    this.onText(text);
    this.pending[stream] += text;
    if (Buffer.byteLength(this.pending[stream]) >= LIMITS.outputChunkBytes) this.flush(stream);
    else this.timer ??= setTimeout(() => this.flushAll(), 100);
  }

  /** Flushes what is left; call once when the command has ended. */
  end(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const rest = cleanOutput(this.decoders[stream].end());
      if (rest !== "") {
        this.onText(rest);
        this.pending[stream] += rest;
      }
    }
    this.flushAll();
  }

  private flushAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush("stdout");
    this.flush("stderr");
  }

  private flush(stream: Stream): void {
    const text = this.pending[stream];
    this.pending[stream] = "";
    if (text === "" || this.stopped) return;
    for (const piece of splitByBytes(text, LIMITS.outputChunkBytes)) {
      const size = Buffer.byteLength(piece);
      if (this.streamed + size > this.maxStreamedBytes) {
        this.stopped = true;
        this.emit({ type: "tool.output", data: { callID: this.callID, stream, text: `\n[output past ${this.maxStreamedBytes} bytes is not streamed; the command goes on]\n` } });
        return;
      }
      this.streamed += size;
      this.emit({ type: "tool.output", data: { callID: this.callID, stream, text: piece } });
    }
  }
}
