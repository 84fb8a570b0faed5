import { describe, expect, it } from "vitest";
import { ANSI_PALETTE, ansiToSpans, stripAnsi } from "./ansi.ts";

describe("ansiToSpans", () => {
  it("keeps colours and bold, and resets", () => {
    expect(ansiToSpans("\u001b[1;31mFAIL\u001b[0m ok")).toEqual([
      { text: "FAIL", style: { fg: ANSI_PALETTE[1], bold: true } },
      { text: " ok", style: {} },
    ]);
  });

  it("reads 256-colour and true-colour codes and bright backgrounds", () => {
    expect(ansiToSpans("\u001b[38;5;196mA\u001b[38;2;1;2;255mB\u001b[102mC")).toEqual([
      { text: "A", style: { fg: "#ff0000" } },
      { text: "B", style: { fg: "#0102ff" } },
      { text: "C", style: { fg: "#0102ff", bg: ANSI_PALETTE[10] } },
    ]);
  });

  it("drops other escapes and keeps markup as plain text", () => {
    expect(stripAnsi("\u001b[2K\u001b[1Gdone \u001b]0;title\u0007<b>&</b>")).toBe("done <b>&</b>");
  });

  it("lets a carriage return rewrite its line", () => {
    expect(stripAnsi("10%\r50%\r100%\nnext\r\n")).toBe("100%\nnext\n");
  });
});
