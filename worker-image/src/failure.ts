/**
 * Turns what stopped a turn into the `error` event's code and message: the proxy refusing
 * the budget, the model API failing, an answer the worker cannot use, or a bug.
 */
import Anthropic from "@anthropic-ai/sdk";
import { ErrorCode } from "../../shared/errors.ts";
import { MalformedAnswer } from "./loop.ts";
import { isTransient } from "./model-client.ts";

export interface Failure {
  code: ErrorCode;
  message: string;
}

function apiErrorType(err: InstanceType<typeof Anthropic.APIError>): string | undefined {
  const body = err.error as { error?: { type?: unknown } } | undefined;
  return typeof body?.error?.type === "string" ? body.error.type : undefined;
}

export function describeFailure(err: unknown): Failure {
  if (err instanceof MalformedAnswer) return { code: ErrorCode.ModelError, message: `malformed model answer: ${err.message}` };
  if (err instanceof Anthropic.APIConnectionError) {
    return { code: ErrorCode.ModelError, message: `cannot reach the model proxy: ${err.cause instanceof Error ? err.cause.message : err.message}` };
  }
  if (err instanceof Anthropic.APIError) {
    const type = apiErrorType(err);
    const marked = err.headers?.get("x-tether-budget-exceeded") === "true";
    if (marked || type === "budget_exceeded" || err.status === 402) return { code: ErrorCode.BudgetExceeded, message: `the model proxy refused the call: ${err.message}` };
    if (err.status === 401 || err.status === 403) return { code: ErrorCode.ModelError, message: `the model proxy refused this task's token (${err.status}): ${err.message}` };
    return { code: ErrorCode.ModelError, message: `the model call failed${err.status ? ` (${err.status})` : ""}: ${err.message}` };
  }
  if (err instanceof Anthropic.AnthropicError && isTransient(err)) {
    return { code: ErrorCode.ModelError, message: `the model's answer kept breaking off: ${err.message}` };
  }
  if (err instanceof Anthropic.AnthropicError || err instanceof SyntaxError) {
    return { code: ErrorCode.ModelError, message: `malformed model answer: ${err.message}` };
  }
  return { code: ErrorCode.WorkerError, message: `the worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` };
}
