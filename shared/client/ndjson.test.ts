import { describe, expect, it } from "vitest";
import { readLines, toNDJSON } from "./ndjson.ts";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

async function collect(lines: AsyncGenerator<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

describe("readLines", () => {
  it("joins lines split across chunks (also inside a character), skips blank ones and takes a last line without a break", async () => {
    const bytes = new TextEncoder().encode('{"a":"é"}\n');
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 7));
        controller.enqueue(bytes.slice(7));
        controller.enqueue(new TextEncoder().encode('\n\n{"b":1}\r\n{"c"'));
        controller.enqueue(new TextEncoder().encode(":2}"));
        controller.close();
      },
    });
    // Byte 7 is the second byte of "é": the first chunk ends inside the character.
    expect(bytes[6]).toBe(0xc3);
    expect(await collect(readLines(stream, 100))).toEqual(['{"a":"é"}', '{"b":1}', '{"c":2}']);
  });

  it("rejects a line over its bound and a stream over its total", async () => {
    await expect(collect(readLines(streamOf(["x".repeat(50), "y".repeat(60)]), 100))).rejects.toMatchObject({ code: "payload_too_large" });
    await expect(collect(readLines(streamOf(["a\n", "b\n", "c\n"]), 100, 4))).rejects.toMatchObject({ code: "payload_too_large" });
  });

  it("reads back what toNDJSON writes", async () => {
    const values = [{ kind: "task" }, { kind: "end", n: 1 }];
    const lines = await collect(readLines(streamOf([toNDJSON(values)]), 100));
    expect(lines.map((l) => JSON.parse(l))).toEqual(values);
  });
});
