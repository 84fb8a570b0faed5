import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../../shared/limits.ts";
import { WorkerToRunner } from "../../shared/protocol.ts";
import { EventsWriter, fitData } from "./events-writer.ts";

function capture() {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on("data", (c: Buffer) => chunks.push(c.toString()));
  return { out, lines: () => chunks.join("").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("EventsWriter", () => {
  it("numbers lines on from lastWseq and writes valid WorkerToRunner lines", async () => {
    const { out, lines } = capture();
    const writer = new EventsWriter(out, 41);
    writer.emit({ type: "agent.text", data: { turn: 0, text: "hi" } });
    writer.emit({ type: "done", data: { ok: true, summary: "s" } });
    await writer.flush();
    expect(lines()).toEqual([
      { wseq: 42, type: "agent.text", data: { turn: 0, text: "hi" } },
      { wseq: 43, type: "done", data: { ok: true, summary: "s" } },
    ]);
    expect(lines().every((l) => WorkerToRunner.safeParse(l).success)).toBe(true);
  });

  it("shortens oversized data to fit the event bound", async () => {
    const { out, lines } = capture();
    const writer = new EventsWriter(out);
    writer.emit({ type: "tool.start", data: { callID: "c", name: "str_replace_based_edit_tool", input: { command: "create", path: "big", file_text: "x".repeat(200_000) } } });
    writer.emit({ type: "agent.text", data: { turn: 0, text: "\u0001".repeat(100_000) } });
    await writer.flush();
    for (const line of lines()) {
      expect(Buffer.byteLength(JSON.stringify(line.data))).toBeLessThanOrEqual(LIMITS.maxEventDataBytes);
      expect(WorkerToRunner.safeParse(line).success).toBe(true);
    }
    expect(JSON.stringify(lines()[0])).toMatch(/characters cut/);
  });

  it("replaces an event that breaks the schema by an error event", async () => {
    const { out, lines } = capture();
    const writer = new EventsWriter(out);
    writer.emit({ type: "tool.end", data: { callID: "", ok: true, summary: "s" } });
    await writer.flush();
    expect(lines()[0]).toMatchObject({ wseq: 1, type: "error", data: { code: "worker_error" } });
  });

  it("leaves small data alone", () => {
    expect(fitData({ a: "b" }, 100)).toEqual({ a: "b" });
  });
});
