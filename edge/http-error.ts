/**
 * HTTP errors of the edge: every failure a client can cause leaves as a 4xx with
 * `{ error: { code, message } }` (`ErrorBody`, built by `errorBody`). Routes throw `fail(...)`
 * or, for an error a Durable Object answered as a value, `failWith(...)`; a Durable Object's
 * own HTTP answers use `errorResponse`; `app.onError` maps the rest. Bodies are read here
 * too, bounded before they are parsed.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { ErrorCode, type ErrorBody, describeIssues, errorBody } from "../shared/index.ts";

const STATUS_OF: ReadonlyMap<string, ContentfulStatusCode> = new Map<ErrorCode, ContentfulStatusCode>([
  [ErrorCode.BadRequest, 400],
  [ErrorCode.InvalidBody, 400],
  [ErrorCode.Unauthorized, 401],
  [ErrorCode.Forbidden, 403],
  [ErrorCode.NotFound, 404],
  [ErrorCode.Conflict, 409],
  [ErrorCode.TaskFinished, 409],
  [ErrorCode.StaleEpoch, 409],
  [ErrorCode.NotLeased, 409],
  [ErrorCode.Gone, 410],
  [ErrorCode.PayloadTooLarge, 413],
  [ErrorCode.RateLimited, 429],
  [ErrorCode.Internal, 500],
]);

/** The JSON response of an error, with the status that fits its code unless one is given. */
export function errorResponse(code: ErrorCode, message: string, status?: ContentfulStatusCode): Response {
  const body = errorBody(code, message);
  return Response.json(body, { status: statusOf(body, status) });
}

/** An error a client caused, with the status that fits its code. */
export function fail(code: ErrorCode, message: string, status?: ContentfulStatusCode): HTTPException {
  return failWith(errorBody(code, message), status);
}

/** The HTTP error an error value stands for (Durable Objects answer errors as values, never thrown). */
export function failWith(body: ErrorBody, status?: ContentfulStatusCode): HTTPException {
  const s = statusOf(body, status);
  return new HTTPException(s, { res: Response.json(body, { status: s }) });
}

function statusOf(body: ErrorBody, status: ContentfulStatusCode | undefined): ContentfulStatusCode {
  return status ?? STATUS_OF.get(body.error.code) ?? 400;
}

/**
 * Reads a request body of at most `maxBytes`, counting as it streams so a body that lies
 * about (or omits) its length is still cut off.
 */
export async function readBodyBytes(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    throw fail(ErrorCode.PayloadTooLarge, `body of ${declared} bytes is over the ${maxBytes} byte limit`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw fail(ErrorCode.PayloadTooLarge, `body is over the ${maxBytes} byte limit`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Reads and validates a JSON body: size bound first, then JSON, then the schema. */
export async function readJSON<S extends z.ZodType>(req: Request, schema: S, maxBytes: number): Promise<z.infer<S>> {
  const bytes = await readBodyBytes(req, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw fail(ErrorCode.InvalidBody, "body is not JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw fail(ErrorCode.InvalidBody, describeIssues(parsed.error));
  return parsed.data;
}

/** Validates query parameters (strings) against a schema. */
export function parseQuery<S extends z.ZodType>(query: Record<string, string>, schema: S): z.infer<S> {
  const parsed = schema.safeParse(query);
  if (!parsed.success) throw fail(ErrorCode.BadRequest, describeIssues(parsed.error));
  return parsed.data;
}
