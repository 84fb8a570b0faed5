/**
 * One task's hard budget as the model proxy keeps it (internal to the proxy): tokens, cost,
 * turns (model calls) and wall time since the task was registered.
 *
 * The budget is hard by construction:
 * - A call is admitted only while nothing is over (`exceeded`). Admission counts its turn at
 *   once and holds its worst case: the input estimate (`CallPlan.inputTokens`, priced as cache
 *   writes, the dearest input) plus its `max_tokens`, which is first clamped to what the token
 *   and dollar budgets leave after everything spent and held. A call for which no output token
 *   is left is refused. So calls in flight together can never promise more than the budget.
 * - Every call ends with `settle`, however it ends: the usage the API reported (output counted
 *   at the clamped maximum when the stream broke before its final count), the worst case held
 *   when the API reported none, or nothing when the API refused the call (a non-2xx answer, or
 *   an upstream that could not be reached), whose turn is then given back too.
 * Tokens count everything the API bills: input, output, cache writes and cache reads.
 */
import type { ModelPrice } from "./prices.ts";

export interface TaskBudget {
  maxTokens?: number;
  maxCostUSD?: number;
  /** Model calls (`POST /v1/messages`), each counted when it is admitted. */
  maxTurns?: number;
  timeoutMinutes?: number;
  /** The model used when a request names none. */
  model?: string;
}

export interface Spent {
  tokens: number;
  costUSD: number;
  turns: number;
}

export const NOTHING_SPENT: Spent = { tokens: 0, costUSD: 0, turns: 0 };

export interface CallPlan {
  /** The estimate of the call's input tokens. */
  inputTokens: number;
  /** The request's `max_tokens`, if it has a usable one. */
  maxTokens: number | undefined;
  /** Null for a model with no known price: its calls cost nothing against a USD limit, so one with a USD limit is refused. */
  price: ModelPrice | null;
}

/** What an admitted call holds until it settles. */
export interface Reservation {
  inputTokens: number;
  /** `max_tokens` as forwarded: clamped to the budget, or as asked when no limit applies. */
  maxTokens: number | undefined;
  tokens: number;
  costUSD: number;
}

export type Admission = { ok: true; reservation: Reservation } | { ok: false; reason: string };

export class BudgetMeter {
  private readonly settled: Spent;
  private readonly held: Spent = { ...NOTHING_SPENT };

  constructor(
    readonly budget: TaskBudget,
    readonly startedAt: number,
    private readonly now: () => number,
    spent: Spent = NOTHING_SPENT,
  ) {
    this.settled = { ...spent };
  }

  /** Spent so far, counting every call in flight at its worst case. */
  get spent(): Spent {
    return {
      tokens: this.settled.tokens + this.held.tokens,
      costUSD: this.settled.costUSD + this.held.costUSD,
      turns: this.settled.turns + this.held.turns,
    };
  }

  /** Why the next call is refused, or undefined while the budget lasts. */
  exceeded(): string | undefined {
    const { budget } = this;
    const spent = this.spent;
    if (budget.maxTurns !== undefined && spent.turns >= budget.maxTurns) {
      return `turn budget spent: ${spent.turns} of ${budget.maxTurns} model calls made`;
    }
    if (budget.maxTokens !== undefined && spent.tokens >= budget.maxTokens) {
      return `token budget spent: ${spent.tokens} of ${budget.maxTokens} tokens used`;
    }
    if (budget.maxCostUSD !== undefined && spent.costUSD >= budget.maxCostUSD) {
      return `cost budget spent: $${spent.costUSD.toFixed(4)} of $${budget.maxCostUSD} used`;
    }
    if (budget.timeoutMinutes !== undefined) {
      const minutes = (this.now() - this.startedAt) / 60_000;
      if (minutes >= budget.timeoutMinutes) {
        return `time budget spent: ${minutes.toFixed(1)} of ${budget.timeoutMinutes} minutes passed`;
      }
    }
    return undefined;
  }

  /** Admits one call: counts its turn and holds its worst case, its `max_tokens` clamped; or says why not. */
  admit(plan: CallPlan): Admission {
    const over = this.exceeded();
    if (over) return { ok: false, reason: over };
    const { budget } = this;
    const spent = this.spent;
    const price = plan.price;
    if (price === null && budget.maxCostUSD !== undefined) return { ok: false, reason: "budget: the model has no known price, so the task's cost limit cannot be kept" };
    const inputCost = price === null ? 0 : (plan.inputTokens * price.cacheWrite) / 1_000_000;
    let maxTokens = plan.maxTokens;
    const limits: number[] = [];
    if (budget.maxTokens !== undefined) limits.push(budget.maxTokens - spent.tokens - plan.inputTokens);
    if (budget.maxCostUSD !== undefined && price !== null) limits.push(Math.floor(((budget.maxCostUSD - spent.costUSD - inputCost) * 1_000_000) / price.output));
    if (limits.length > 0) {
      const left = Math.min(...limits);
      if (left < 1) {
        const tokens = budget.maxTokens === undefined ? "" : `${budget.maxTokens - spent.tokens} tokens `;
        const dollars = budget.maxCostUSD === undefined ? "" : `$${(budget.maxCostUSD - spent.costUSD).toFixed(4)} `;
        return { ok: false, reason: `budget spent: the ${tokens}${dollars}left do not cover this call's input (up to ${plan.inputTokens} tokens) and one output token` };
      }
      maxTokens = Math.min(maxTokens ?? left, left);
    }
    const output = maxTokens ?? 0;
    const reservation: Reservation = {
      inputTokens: plan.inputTokens,
      maxTokens,
      tokens: plan.inputTokens + output,
      costUSD: price === null ? 0 : inputCost + (output * price.output) / 1_000_000,
    };
    this.held.turns += 1;
    this.held.tokens += reservation.tokens;
    this.held.costUSD += reservation.costUSD;
    return { ok: true, reservation };
  }

  /**
   * Ends an admitted call: releases what it held and charges `charge` (its turn counts when
   * `turn` is true). Called exactly once per admitted call.
   */
  settle(reservation: Reservation, charge: { tokens: number; costUSD: number }, turn: boolean): void {
    this.held.turns -= 1;
    this.held.tokens -= reservation.tokens;
    this.held.costUSD -= reservation.costUSD;
    if (turn) this.settled.turns += 1;
    this.settled.tokens += charge.tokens;
    this.settled.costUSD += charge.costUSD;
  }
}

/** Writes the clamped `max_tokens`, and keeps a thinking budget below it as the API requires. */
export function clampMaxTokens(request: Record<string, unknown>, maxTokens: number): void {
  request.max_tokens = maxTokens;
  const thinking = request.thinking as { budget_tokens?: unknown } | undefined;
  if (typeof thinking === "object" && thinking !== null && typeof thinking.budget_tokens === "number" && thinking.budget_tokens >= maxTokens) {
    request.thinking = { ...thinking, budget_tokens: Math.max(maxTokens - 1, 0) };
  }
}
