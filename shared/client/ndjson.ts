/**
 * NDJSON (one JSON value a line) read from a byte stream, as exports and imports carry it.
 * Lines are bounded: a line longer than `maxLineBytes` rejects rather than grow without end.
 */
import { TetherError } from "./errors.ts";

/** Yields each non-empty line of the stream, without its line break; at most `maxTotalBytes` in all. */
export async function* readLines(body: ReadableStream<Uint8Array>, maxLineBytes: number, maxTotalBytes = Infinity): AsyncGenerator<string> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      total += value?.byteLength ?? 0;
      if (total > maxTotalBytes) throw new TetherError(413, "payload_too_large", `the stream is over the ${maxTotalBytes} byte limit`);
      buffered += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) yield line;
        newline = buffered.indexOf("\n");
      }
      // Characters are at most 3 UTF-8 bytes each here (lone surrogates become U+FFFD).
      if (buffered.length * 3 > maxLineBytes && new TextEncoder().encode(buffered).byteLength > maxLineBytes) {
        throw new TetherError(413, "payload_too_large", `a line is over the ${maxLineBytes} byte limit`);
      }
      if (done) break;
    }
    if (buffered.trim()) yield buffered.trim();
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** One value a line, as NDJSON text. */
export function toNDJSON(values: Iterable<unknown>): string {
  let out = "";
  for (const v of values) out += `${JSON.stringify(v)}\n`;
  return out;
}
