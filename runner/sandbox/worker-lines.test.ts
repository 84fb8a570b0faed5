import { describe, expect, it } from "vitest";
import type { Parsed, WorkerToRunner } from "../../shared/protocol.ts";
import { WorkerLineSplitter } from "./worker-lines.ts";

function collect(max?: number) {
  const lines: { parsed: Parsed<WorkerToRunner>; raw: string }[] = [];
  const splitter = new WorkerLineSplitter({ line: (parsed, raw) => lines.push({ parsed, raw }) }, max);
  return { lines, splitter };
}

const event = (wseq: number, text = "hi") => JSON.stringify({ wseq, type: "agent.text", data: { turn: 0, text } });

describe("WorkerLineSplitter", () => {
  it("parses lines however the stream cuts them", () => {
    const { lines, splitter } = collect();
    const all = Buffer.from(`${event(1)}\n${event(2, "é ü")}\r\n\n${event(3)}\n`);
    // Byte by byte, cutting the two-byte characters in half too.
    for (let i = 0; i < all.length; i++) splitter.push(all.subarray(i, i + 1));
    expect(lines.map((l) => l.parsed.ok && l.parsed.value.wseq)).toEqual([1, 2, 3]);
    expect(lines[1]?.parsed.ok && lines[1].parsed.value).toEqual({ wseq: 2, type: "agent.text", data: { turn: 0, text: "é ü" } });
  });

  it("hands over a bad line as an error with its text, and goes on", () => {
    const { lines, splitter } = collect();
    splitter.push(Buffer.from(`not json\n{"wseq":1,"type":"nope","data":{}}\n${event(2)}\n`));
    expect(lines.map((l) => l.parsed.ok)).toEqual([false, false, true]);
    expect(lines[0]).toMatchObject({ raw: "not json", parsed: { ok: false, error: { code: "invalid_frame" } } });
    expect(lines[1]?.parsed.ok === false && lines[1].parsed.error.code).toBe("invalid_frame");
  });

  it("reports a line over the limit once, drops its rest, and keeps the lines after it", () => {
    const { lines, splitter } = collect(1024);
    splitter.push(Buffer.from(`${event(1)}\n`));
    for (let i = 0; i < 100; i++) splitter.push(Buffer.alloc(100, 0x61));
    splitter.push(Buffer.from(`tail\n${event(2)}\n`));
    expect(lines).toHaveLength(3);
    expect(lines[1]?.parsed).toMatchObject({ ok: false, error: { code: "payload_too_large" } });
    expect(lines[1]?.raw).toBe(`${"a".repeat(200)}…`);
    expect(lines[2]?.parsed.ok && lines[2].parsed.value.wseq).toBe(2);
  });

  it("hands over a last line without a newline at the end", () => {
    const { lines, splitter } = collect();
    splitter.push(Buffer.from(event(7)));
    expect(lines).toHaveLength(0);
    splitter.end();
    expect(lines[0]?.parsed.ok && lines[0].parsed.value.wseq).toBe(7);
  });
});
