/**
 * HTTP errors of the edge: every failure a client can cause leaves as a 4xx with
 * `{ error: { code, message } }`. Routes throw `fail(...)`; `app.onError` maps the rest.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import { ErrorCode, describeIssues, errorBody } from "../shared/index.ts";

export type RoomError = { error: { code: ErrorCode; message: string } };

const STATUS_OF: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  [ErrorCode.BadRequest]: 400,
  [ErrorCode.InvalidBody]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.TaskFinished]: 409,
  [ErrorCode.StaleEpoch]: 409,
  [ErrorCode.NotLeased]: 409,
  [ErrorCode.Gone]: 410,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.RateLimited]: 429,
};

/** An error a client caused, with the status that fits its code. */
export function fail(code: ErrorCode, message: string, status?: ContentfulStatusCode): HTTPException {
  const s = status ?? STATUS_OF[code] ?? 400;
  return new HTTPException(s, { res: Response.json(errorBody(code, message), { status: s }) });
}

export function isRoomError(value: unknown): value is RoomError {
  return typeof value === "object" && value !== null && "error" in value;
}

/** Turns a DO's error value into the HTTP error it stands for. */
export function failWith(err: RoomError): HTTPException {
  return fail(err.error.code, err.error.message);
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
