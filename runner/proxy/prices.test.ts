import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { costOf, DEFAULT_PRICES, priceOf, withOverrides } from "./prices.ts";

const none = { inputTokens: 0, outputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0 };
const cents = (usd: number | null) => (usd === null ? null : Math.round(usd * 100));

/** Models of the SDK's list that the pricing page does not price (read on PRICES_READ_ON). */
const UNPRICED = ["claude-fable-5-2", "claude-mythos-5-2", "claude-mythos-preview"];

describe("prices", () => {
  it("has a price for every model of the SDK's list that the pricing page prices", () => {
    const sdkDir = dirname(createRequire(import.meta.url).resolve("@anthropic-ai/sdk"));
    const types = readFileSync(join(sdkDir, "resources/messages/messages.d.ts"), "utf8");
    const union = /export type Model = ([^;]+);/.exec(types)?.[1] ?? "";
    const models = [...union.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
    expect(models).toContain("claude-sonnet-5-5");
    for (const model of models) {
      if (UNPRICED.includes(model)) expect(priceOf(model), model).toBeNull();
      else expect(priceOf(model), model).not.toBeNull();
    }
  });

  it("prices Sonnet 5.5 as published: $2 in, $10 out, $2.50 cache writes, $0.10 cache reads per million", () => {
    expect(priceOf("claude-sonnet-5-5")).toMatchObject({ input: 2, output: 10, cacheWrite: 2.5, cacheWrite1h: 4, cacheRead: 0.1 });
    expect(priceOf("claude-opus-5-5")).toMatchObject({ input: 4, output: 20 });
  });

  it("costs a known task to the cent: the published price arithmetic", () => {
    // 1.2M fresh input, 85k output, 300k cache writes, 2.5M cache reads on Sonnet 5.5:
    // 1.2 × $2 + 0.085 × $10 + 0.3 × $2.50 + 2.5 × $0.10 = $2.40 + $0.85 + $0.75 + $0.25 = $4.25
    const tokens = { inputTokens: 1_200_000, outputTokens: 85_000, cacheWriteTokens: 300_000, cacheReadTokens: 2_500_000 };
    expect(cents(costOf("claude-sonnet-5-5", tokens))).toBe(425);
    // The fix-the-test task's last call: 900 in, 40 out, 800 cache reads = $0.0018 + $0.0004 + $0.00008 = $0.00228
    expect(costOf("claude-sonnet-5-5", { inputTokens: 900, outputTokens: 40, cacheWriteTokens: 0, cacheReadTokens: 800 })).toBeCloseTo(0.00228, 10);
  });

  it("matches a model's own ID or its dated ID, never another model's", () => {
    expect(priceOf("claude-haiku-4-5-20251001")).toEqual(DEFAULT_PRICES["claude-haiku-4-5"]);
    expect(priceOf("claude-sonnet-5-7")).toBeNull();
    expect(priceOf("claude-sonnet-5-5-preview")).toBeNull();
    expect(priceOf("some-new-model")).toBeNull();
    expect(costOf("some-new-model", { ...none, inputTokens: 10 })).toBeNull();
  });

  it("prices Haiku 5.5 by the prompt's length", () => {
    expect(costOf("claude-haiku-5-5", { ...none, inputTokens: 100_000 })).toBeCloseTo(0.01, 10);
    expect(costOf("claude-haiku-5-5", { ...none, inputTokens: 60_000, cacheReadTokens: 60_000 })).toBeCloseTo(0.06 * 0.5 + 0.06 * 0.05, 10);
  });

  it("takes an operator's prices on top of the table", () => {
    const table = withOverrides({ "my-model": { input: 1, output: 2, cacheWrite: 0, cacheRead: 0 }, "claude-sonnet-5-5": { input: 9, output: 9, cacheWrite: 9, cacheRead: 9 } });
    expect(costOf("my-model", { ...none, inputTokens: 1_000_000, outputTokens: 1_000_000 }, table)).toBe(3);
    expect(priceOf("claude-sonnet-5-5", table)?.input).toBe(9);
    expect(priceOf("claude-opus-5-5", table)?.input).toBe(4);
  });
});
