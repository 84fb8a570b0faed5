import { describe, expect, it } from "vitest";
import { redactText, SecretRedactor } from "./redact.ts";

const KEY = "sk-ant-test-0123456789";

function run(chunks: string[]): { out: string; pieces: string[] } {
  const r = new SecretRedactor(KEY);
  const pieces = chunks.map((c) => r.push(Buffer.from(c)).toString());
  pieces.push(r.flush().toString());
  return { out: pieces.join(""), pieces };
}

describe("SecretRedactor", () => {
  it("masks the secret inside one chunk with as many stars", () => {
    const { out } = run([`a ${KEY} b ${KEY}`]);
    expect(out).toBe(`a ${"*".repeat(KEY.length)} b ${"*".repeat(KEY.length)}`);
  });

  it("masks a secret split across chunks", () => {
    const { out } = run(["xx sk-ant-te", "st-0123", "456789 yy"]);
    expect(out).not.toContain(KEY);
    expect(out).toBe(`xx ${"*".repeat(KEY.length)} yy`);
  });

  it("passes a chunk ending in a newline through whole, holding nothing back", () => {
    const { pieces } = run(["data: {}\n\n", "data: {}\n\n"]);
    expect(pieces).toEqual(["data: {}\n\n", "data: {}\n\n", ""]);
  });

  it("returns a held tail that turned out not to be the secret", () => {
    const { pieces, out } = run(["abc sk-an", "other"]);
    expect(pieces[0]).toBe("abc ");
    expect(out).toBe("abc sk-another");
  });

  it("redacts text for logs", () => {
    expect(redactText(`failed with ${KEY}`, KEY)).toBe("failed with [redacted]");
  });
});
