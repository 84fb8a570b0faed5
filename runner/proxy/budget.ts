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
 *
 * A refusal names the limit it reached; `raise` applies higher limits, after which the same
 * call is admitted again. Time spent paused at a reached budget does not count as the task's.
 */
import type { BudgetAmounts, BudgetLimit, BudgetLimits } from "../../shared/budget.ts";
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

/** Which limit a refused call reached, and the words for it. */
export interface Reached {
  limit: BudgetLimit;
  reason: string;
}

/** The budget as the phone shows it: the limits, and per limit what is spent and what remains. */
export interface BudgetReport {
  limits: BudgetLimits;
  spent: BudgetAmounts;
  remaining: BudgetAmounts;
}

export type Admission = { ok: true; reservation: Reservation } | ({ ok: false } & Reached);

export class BudgetMeter {
  private readonly settled: Spent;
  private readonly held: Spent = { ...NOTHING_SPENT };

  constructor(
    public budget: TaskBudget,
    public startedAt: number,
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

  /** Minutes the task has run (`startedAt` moves on past the time it sat paused at a budget). */
  get minutes(): number {
    return Math.max(0, (this.now() - this.startedAt) / 60_000);
  }

  /** Which limit refuses the next call, or undefined while the budget lasts. */
  exceeded(): Reached | undefined {
    const { budget } = this;
    const spent = this.spent;
    if (budget.maxTurns !== undefined && spent.turns >= budget.maxTurns) {
      return { limit: "maxTurns", reason: `turn budget spent: ${spent.turns} of ${budget.maxTurns} model calls made` };
    }
    if (budget.maxTokens !== undefined && spent.tokens >= budget.maxTokens) {
      return { limit: "maxTokens", reason: `token budget spent: ${spent.tokens} of ${budget.maxTokens} tokens used` };
    }
    if (budget.maxCostUSD !== undefined && spent.costUSD >= budget.maxCostUSD) {
      return { limit: "maxCostUSD", reason: `cost budget spent: $${spent.costUSD.toFixed(4)} of $${budget.maxCostUSD} used` };
    }
    if (budget.timeoutMinutes !== undefined && this.minutes >= budget.timeoutMinutes) {
      return { limit: "timeoutMinutes", reason: `time budget spent: ${this.minutes.toFixed(1)} of ${budget.timeoutMinutes} minutes passed` };
    }
    return undefined;
  }

  /**
   * Applies raised limits (the model stays); `pausedMs` of pause at a reached budget do not
   * count as the task's time.
   */
  raise(limits: BudgetLimits, pausedMs: number): void {
    this.budget = { ...this.budget, ...limits };
    this.startedAt += Math.max(0, pausedMs);
  }

  /** The limits, and per limit what is spent (calls in flight at their worst case) and what remains. */
  report(): BudgetReport {
    const { budget } = this;
    const spent = this.spent;
    const used: Required<BudgetAmounts> = { maxTurns: spent.turns, maxTokens: spent.tokens, maxCostUSD: spent.costUSD, timeoutMinutes: this.minutes };
    const limits: BudgetLimits = {};
    const remaining: BudgetAmounts = {};
    for (const name of ["maxTurns", "maxTokens", "maxCostUSD", "timeoutMinutes"] as const) {
      const limit = budget[name];
      if (limit === undefined) continue;
      limits[name] = limit;
      remaining[name] = Math.max(0, limit - used[name]);
    }
    return { limits, spent: used, remaining };
  }

  /** Admits one call: counts its turn and holds its worst case, its `max_tokens` clamped; or says which limit refuses it. */
  admit(plan: CallPlan): Admission {
    const over = this.exceeded();
    if (over) return { ok: false, ...over };
    const { budget } = this;
    const spent = this.spent;
    const price = plan.price;
    if (price === null && budget.maxCostUSD !== undefined) return { ok: false, limit: "maxCostUSD", reason: "budget: the model has no known price, so the task's cost limit cannot be kept" };
    const inputCost = price === null ? 0 : (plan.inputTokens * price.cacheWrite) / 1_000_000;
    let maxTokens = plan.maxTokens;
    const tokensLeft = budget.maxTokens === undefined ? Infinity : budget.maxTokens - spent.tokens - plan.inputTokens;
    const dollarsLeft = budget.maxCostUSD === undefined || price === null ? Infinity : Math.floor(((budget.maxCostUSD - spent.costUSD - inputCost) * 1_000_000) / price.output);
    if (Number.isFinite(tokensLeft) || Number.isFinite(dollarsLeft)) {
      const left = Math.min(tokensLeft, dollarsLeft);
      if (left < 1) {
        const tokens = budget.maxTokens === undefined ? "" : `${budget.maxTokens - spent.tokens} tokens `;
        const dollars = budget.maxCostUSD === undefined ? "" : `$${(budget.maxCostUSD - spent.costUSD).toFixed(4)} `;
        const limit = tokensLeft <= dollarsLeft ? "maxTokens" : "maxCostUSD";
        return { ok: false, limit, reason: `budget spent: the ${tokens}${dollars}left do not cover this call's input (up to ${plan.inputTokens} tokens) and one output token` };
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
