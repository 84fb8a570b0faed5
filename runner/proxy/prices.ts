/**
 * Model prices in USD per million tokens, by model family, and the cost of one call.
 *
 * A model ID is matched by its longest known prefix (`claude-opus-4-5-20251101` →
 * `claude-opus-4-5`). An unknown model costs `FALLBACK_PRICE`, the dearest family in the
 * table (Opus 4 / 4.1), so a budget in USD is never overrun because a model was missing here.
 * Cache writes are priced at the 5-minute rate (1.25 × input).
 */
import type { EventData } from "../../shared/events.ts";

export interface ModelPrice {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

export interface PriceTable {
  /** Model ID prefix → price. */
  models: Record<string, ModelPrice>;
  /** The price of a model no prefix matches. */
  fallback: ModelPrice;
}

const OPUS_4: ModelPrice = { input: 15, output: 75, cacheWrite: 18.75, cacheRead: 1.5 };
const OPUS_4_5: ModelPrice = { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 };
const SONNET: ModelPrice = { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 };
const HAIKU_4_5: ModelPrice = { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 };
const HAIKU_3_5: ModelPrice = { input: 0.8, output: 4, cacheWrite: 1, cacheRead: 0.08 };
const HAIKU_3: ModelPrice = { input: 0.25, output: 1.25, cacheWrite: 0.3, cacheRead: 0.03 };

export const FALLBACK_PRICE: ModelPrice = OPUS_4;

export const DEFAULT_PRICES: PriceTable = {
  models: {
    "claude-opus-4-5": OPUS_4_5,
    "claude-opus-4-1": OPUS_4,
    "claude-opus-4": OPUS_4,
    "claude-3-opus": OPUS_4,
    "claude-sonnet-4": SONNET,
    "claude-3-7-sonnet": SONNET,
    "claude-3-5-sonnet": SONNET,
    "claude-haiku-4-5": HAIKU_4_5,
    "claude-3-5-haiku": HAIKU_3_5,
    "claude-3-haiku": HAIKU_3,
  },
  fallback: FALLBACK_PRICE,
};

/** The price of `model`: its longest matching prefix, else the table's fallback. */
export function priceOf(model: string, table: PriceTable = DEFAULT_PRICES): ModelPrice {
  let best: string | undefined;
  for (const prefix of Object.keys(table.models)) {
    if (model.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best === undefined ? table.fallback : (table.models[best] ?? table.fallback);
}

export type TokenCounts = Omit<EventData<"usage">, "model" | "costUSD">;

/** The cost in USD of one call's tokens. */
export function costOf(model: string, tokens: TokenCounts, table: PriceTable = DEFAULT_PRICES): number {
  const p = priceOf(model, table);
  const micro =
    tokens.inputTokens * p.input +
    tokens.outputTokens * p.output +
    tokens.cacheWriteTokens * p.cacheWrite +
    tokens.cacheReadTokens * p.cacheRead;
  return micro / 1_000_000;
}
