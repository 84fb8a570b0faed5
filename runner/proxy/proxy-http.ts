/**
 * The HTTP plumbing of the model proxy's sockets (internal to the proxy): the task token
 * check, a bounded body read, and errors in the Messages API's own shape.
 */
import { timingSafeEqual } from "node:crypto";
import type http from "node:http";

/** Whether the request carries the task's token, in `x-api-key` or as a Bearer token. */
export function authorized(token: Buffer, req: http.IncomingMessage): boolean {
  const header = req.headers["x-api-key"];
  const bearer = req.headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  const given = typeof header === "string" ? header : bearer;
  if (given === undefined) return false;
  const buf = Buffer.from(given);
  return buf.length === token.length && timingSafeEqual(buf, token);
}

/** The body, or undefined when it is over `max` bytes. */
export function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > max) over = true;
      if (!over) chunks.push(chunk);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** `{"type":"error","error":{"type","message"}}` with `status`. */
export function sendError(res: http.ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ type: "error", error: { type, message } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
