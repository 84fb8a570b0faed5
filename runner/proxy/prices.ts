/**
 * Model prices in USD per million tokens, and the cost of one call.
 *
 * `DEFAULT_PRICES` holds every model of the SDK's `Model` list that Anthropic's pricing page
 * prices, as read on PRICES_READ_ON (the pricing page, the model pages and the Sonnet 5.5
 * migration guide). A model matches its own ID or its ID with a date (`claude-haiku-4-5` →
 * `claude-haiku-4-5-20251001`), never another model's: a model with no known price costs
 * null (unknown), so no cost is borrowed from another model. Operators add or replace prices
 * with the runner's `modelPrices` setting.
 *
 * Choices made where the sources differ or say more than one number:
 * - Sonnet 5.5 cache reads: $0.10 (0.05 × input). The migration guide gives $0.10, "half the
 *   Claude Sonnet 5 rate", after the cut of 2026-10-07; the model page still showed $0.20.
 * - Cache writes are priced at the 5-minute rate: the worker marks its cache breakpoints
 *   `ephemeral` without a TTL, which is 5 minutes. The 1-hour rate is kept for reference.
 * - Haiku 5.5 is priced by the prompt's length (input + cache reads + cache writes of one
 *   call): up to 100,000 tokens at one price, over that at another (`longPrompt`).
 * - Not priced by the page, so unknown: claude-fable-5-2, claude-mythos-5-2, claude-mythos-preview.
 */
import { z } from "zod";
import type { EventData } from "../../shared/events.ts";

export const PRICES_READ_ON = "2026-11-30";

const rate = z.number().nonnegative().max(10_000);

const BasePrice = z
  .object({
    input: rate,
    output: rate,
    /** Cache writes with the 5-minute TTL. */
    cacheWrite: rate,
    /** Cache writes with the 1-hour TTL; defaults to the 5-minute rate. */
    cacheWrite1h: rate.optional(),
    cacheRead: rate,
  })
  .strict();

export const ModelPrice = BasePrice.extend({
  /** Another price for a call whose prompt is longer than `overTokens`. */
  longPrompt: z.object({ overTokens: z.number().int().positive(), price: BasePrice }).strict().optional(),
}).strict();
export type ModelPrice = z.infer<typeof ModelPrice>;

/** Model ID → price. */
export const PriceTable = z.record(z.string().min(1).max(128), ModelPrice);
export type PriceTable = z.infer<typeof PriceTable>;

const FABLE_5_1: ModelPrice = { input: 10, output: 50, cacheWrite: 12.5, cacheWrite1h: 20, cacheRead: 0.25 };
const FABLE_5: ModelPrice = { input: 10, output: 50, cacheWrite: 12.5, cacheWrite1h: 20, cacheRead: 1 };
const OPUS_5_5: ModelPrice = { input: 4, output: 20, cacheWrite: 5, cacheWrite1h: 8, cacheRead: 0.2 };
const OPUS_4_5: ModelPrice = { input: 5, output: 25, cacheWrite: 6.25, cacheWrite1h: 10, cacheRead: 0.5 };
const SONNET_5_5: ModelPrice = { input: 2, output: 10, cacheWrite: 2.5, cacheWrite1h: 4, cacheRead: 0.1 };
const SONNET_5: ModelPrice = { input: 2, output: 10, cacheWrite: 2.5, cacheWrite1h: 4, cacheRead: 0.2 };
const SONNET_4_5: ModelPrice = { input: 3, output: 15, cacheWrite: 3.75, cacheWrite1h: 6, cacheRead: 0.3 };
const HAIKU_5_5: ModelPrice = {
  input: 0.1,
  output: 0.5,
  cacheWrite: 0.125,
  cacheWrite1h: 0.2,
  cacheRead: 0.01,
  longPrompt: { overTokens: 100_000, price: { input: 0.5, output: 2.5, cacheWrite: 0.625, cacheWrite1h: 1, cacheRead: 0.05 } },
};
const HAIKU_4_5: ModelPrice = { input: 1, output: 5, cacheWrite: 1.25, cacheWrite1h: 2, cacheRead: 0.1 };

export const DEFAULT_PRICES: PriceTable = {
  "claude-fable-5-1": FABLE_5_1,
  "claude-mythos-5-1": FABLE_5_1,
  "claude-fable-5": FABLE_5,
  "claude-mythos-5": FABLE_5,
  "claude-opus-5-5": OPUS_5_5,
  "claude-opus-5": OPUS_4_5,
  "claude-opus-4-8": OPUS_4_5,
  "claude-opus-4-7": OPUS_4_5,
  "claude-opus-4-6": OPUS_4_5,
  "claude-opus-4-5": OPUS_4_5,
  "claude-sonnet-5-5": SONNET_5_5,
  "claude-sonnet-5": SONNET_5,
  "claude-sonnet-4-6": SONNET_4_5,
  "claude-sonnet-4-5": SONNET_4_5,
  "claude-haiku-5-5": HAIKU_5_5,
  "claude-haiku-4-5": HAIKU_4_5,
};

/** The table with an operator's prices on top. */
export function withOverrides(overrides: PriceTable | undefined, table: PriceTable = DEFAULT_PRICES): PriceTable {
  return { ...table, ...overrides };
}

/** The price of `model`: its own entry or that of its undated ID; null when it has none. */
export function priceOf(model: string, table: PriceTable = DEFAULT_PRICES): ModelPrice | null {
  if (Object.hasOwn(table, model)) return table[model]!;
  const undated = /^(.+)-\d{8}$/.exec(model)?.[1];
  return undated !== undefined && Object.hasOwn(table, undated) ? table[undated]! : null;
}

export type TokenCounts = Omit<EventData<"usage">, "model" | "costUSD">;

/** The cost in USD of one call's tokens, or null when the model has no known price. */
export function costOf(model: string, tokens: TokenCounts, table: PriceTable = DEFAULT_PRICES): number | null {
  const found = priceOf(model, table);
  if (found === null) return null;
  const prompt = tokens.inputTokens + tokens.cacheReadTokens + tokens.cacheWriteTokens;
  const p = found.longPrompt !== undefined && prompt > found.longPrompt.overTokens ? found.longPrompt.price : found;
  const micro = tokens.inputTokens * p.input + tokens.outputTokens * p.output + tokens.cacheWriteTokens * p.cacheWrite + tokens.cacheReadTokens * p.cacheRead;
  return micro / 1_000_000;
}
