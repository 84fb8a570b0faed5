/**
 * Error codes shared by the edge, the runner and the worker. On the wire an error is
 * `{ "error": { "code", "message" } }` (REST) or `{ "type": "error", "code", "message" }` (socket).
 */
import { z } from "zod";

export const ErrorCode = {
  BadRequest: "bad_request",
  InvalidBody: "invalid_body",
  InvalidFrame: "invalid_frame",
  UnsupportedVersion: "unsupported_version",
  PayloadTooLarge: "payload_too_large",
  Unauthorized: "unauthorized",
  Forbidden: "forbidden",
  NotFound: "not_found",
  Conflict: "conflict",
  Gone: "gone",
  StaleEpoch: "stale_epoch",
  NotLeased: "not_leased",
  TaskFinished: "task_finished",
  RateLimited: "rate_limited",
  BudgetExceeded: "budget_exceeded",
  NoModelKey: "no_model_key",
  WorkerError: "worker_error",
  BadWorkerLine: "bad_worker_line",
  ModelError: "model_error",
  Internal: "internal",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ErrorCodeSchema = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);

/**
 * The one error value of REST: a response body, and the error a Durable Object answers by
 * RPC. `code` is read as any string, so a client takes codes newer than itself.
 */
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** The one builder of an `ErrorBody`; a code is always one of `ErrorCode`. */
export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}
