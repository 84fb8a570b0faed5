/**
 * One task's hard budget as the model proxy keeps it (internal to the proxy): tokens, cost,
 * turns (model calls) and wall time since the task was registered. A call is refused before
 * it is forwarded once any limit is reached; a call in flight is never cut.
 *
 * Tokens count everything the API bills: input, output, cache writes and cache reads.
 */
export interface TaskBudget {
  maxTokens?: number;
  maxCostUSD?: number;
  /** Model calls (`POST /v1/messages`), each counted when the API accepts it (2xx). */
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

export class BudgetMeter {
  readonly spent: Spent;

  constructor(
    readonly budget: TaskBudget,
    readonly startedAt: number,
    private readonly now: () => number,
    spent: Spent = NOTHING_SPENT,
  ) {
    this.spent = { ...spent };
  }

  /** Why the next call is refused, or undefined while the budget lasts. */
  exceeded(): string | undefined {
    const { budget, spent } = this;
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

  recordCall(): void {
    this.spent.turns += 1;
  }

  recordUsage(tokens: number, costUSD: number): void {
    this.spent.tokens += tokens;
    this.spent.costUSD += costUSD;
  }
}
