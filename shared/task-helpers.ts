/**
 * The task's pure helpers and its status names, free of zod so that the phone app bundles
 * them without the schemas; `task.ts` builds its schemas on these and re-exports them.
 */
import { LIMITS } from "./limits.ts";
import type { CallUsage, TaskStatus, Usage } from "./task.ts";

export const TASK_STATUSES = ["queued", "assigned", "running", "waiting", "succeeded", "failed", "cancelled", "lost"] as const;

/** The four limits a reached budget pauses at and a raise may name (see `budget.ts`). */
export const BUDGET_LIMITS = ["maxTurns", "maxTokens", "maxCostUSD", "timeoutMinutes"] as const;

export const TERMINAL_STATUSES: readonly TaskStatus[] = ["succeeded", "failed", "cancelled", "lost"];
export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

function clampedSum(a: number, b: number, max: number): number {
  const sum = a + b;
  return Number.isFinite(sum) && sum <= max ? sum : max;
}

/** Adds one call to a total; each sum clamps at its bound, so a total always parses as `Usage`. */
export function addUsage(total: Usage, call: CallUsage): Usage {
  const tokens = (a: number, b: number) => clampedSum(a, b, Number.MAX_SAFE_INTEGER);
  return {
    inputTokens: tokens(total.inputTokens, call.inputTokens),
    outputTokens: tokens(total.outputTokens, call.outputTokens),
    cacheReadTokens: tokens(total.cacheReadTokens, call.cacheReadTokens),
    cacheWriteTokens: tokens(total.cacheWriteTokens, call.cacheWriteTokens),
    // An unknown cost makes the total unknown.
    costUSD: total.costUSD === null || call.costUSD === null ? null : clampedSum(total.costUSD, call.costUSD, LIMITS.maxTaskCostUSD),
    modelCalls: tokens(total.modelCalls, 1),
  };
}

export const EMPTY_USAGE: Usage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUSD: 0,
  modelCalls: 0,
};

/** Titles are cut to this many characters (an ellipsis included). */
export const TITLE_CHARS = 60;

/** The title shown in lists: the prompt's first line, cut at a word boundary. */
export function titleFromPrompt(prompt: string): string {
  const line = (prompt.trim().split("\n", 1)[0] ?? "").trim();
  if (line.length <= TITLE_CHARS) return line;
  // A space at the last of these characters still leaves the word before it room for the ellipsis.
  const head = line.slice(0, TITLE_CHARS);
  const space = head.lastIndexOf(" ");
  const cut = space >= TITLE_CHARS / 2 ? head.slice(0, space) : head.slice(0, TITLE_CHARS - 1);
  return `${cut.replace(/[\s,.;:–-]+$/, "")}…`;
}
