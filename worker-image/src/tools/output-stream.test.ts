import { describe, expect, it } from "vitest";
import type { AgentEventBody } from "../../../shared/events.ts";
import { cleanOutput, OutputStream, splitByBytes } from "./output-stream.ts";
import { OutputCap } from "./output-cap.ts";

describe("output helpers", () => {
  it("splits by bytes without breaking a character", () => {
    const parts = splitByBytes("é".repeat(10), 5);
    expect(parts.every((p) => Buffer.byteLength(p) <= 5)).toBe(true);
    expect(parts.join("")).toBe("é".repeat(10));
  });

  it("decodes a character split across two chunks", () => {
    const events: AgentEventBody[] = [];
    const stream = new OutputStream((e) => events.push(e), "c", () => {});
    const bytes = Buffer.from("héllo");
    stream.write("stdout", bytes.subarray(0, 2));
    stream.write("stdout", bytes.subarray(2));
    stream.end();
    expect(events.map((e) => (e.data as { text: string }).text).join("")).toBe("héllo");
  });

  it("replaces control characters but keeps tabs and newlines", () => {
    expect(cleanOutput("a\tb\nc\x00d\x1b[0m")).toBe("a\tb\nc\uFFFDd\uFFFD[0m");
  });

  it("keeps head and tail and counts the cut", () => {
    const cap = new OutputCap(3, 3);
    cap.add("abcdefghij");
    expect(cap.text()).toBe("abc\n[... 4 characters cut from the middle of the output ...]\nhij");
    const small = new OutputCap(3, 3);
    small.add("abcd");
    expect(small.text()).toBe("abcd");
    expect(small.truncated).toBe(false);
  });
});
