import { describe, expect, it } from "vitest";
import { costOf, DEFAULT_PRICES, FALLBACK_PRICE, priceOf } from "./prices.ts";

const tokens = { inputTokens: 1_000_000, outputTokens: 1_000_000, cacheWriteTokens: 1_000_000, cacheReadTokens: 1_000_000 };

describe("prices", () => {
  it("matches a dated model ID by its longest family prefix", () => {
    expect(priceOf("claude-opus-4-5-20251101")).toEqual(DEFAULT_PRICES.models["claude-opus-4-5"]);
    expect(priceOf("claude-opus-4-20250514")).toEqual(DEFAULT_PRICES.models["claude-opus-4"]);
    expect(priceOf("claude-sonnet-4-5").input).toBe(3);
    expect(priceOf("claude-3-5-haiku-latest").output).toBe(4);
  });

  it("prices an unknown model at the dearest family", () => {
    expect(priceOf("some-new-model")).toEqual(FALLBACK_PRICE);
    const dearest = Math.max(...Object.values(DEFAULT_PRICES.models).map((p) => p.output));
    expect(FALLBACK_PRICE.output).toBe(dearest);
  });

  it("adds the four token kinds at their own rates", () => {
    expect(costOf("claude-sonnet-4-5", tokens)).toBeCloseTo(3 + 15 + 3.75 + 0.3, 10);
    expect(costOf("claude-sonnet-4", { inputTokens: 1000, outputTokens: 500, cacheWriteTokens: 0, cacheReadTokens: 0 })).toBeCloseTo(0.003 + 0.0075, 10);
  });

  it("takes a custom table", () => {
    const table = { models: { m: { input: 1, output: 2, cacheWrite: 0, cacheRead: 0 } }, fallback: FALLBACK_PRICE };
    expect(costOf("m-1", { ...tokens, cacheWriteTokens: 0, cacheReadTokens: 0 }, table)).toBe(3);
  });
});
