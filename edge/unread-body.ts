/**
 * A request body the Worker answered without reading is read to its end, and dropped,
 * before the answer leaves (up to `DRAIN_BYTES`; a longer one is cancelled). Under
 * `wrangler dev`, and so under `npm start`, every request crosses a local proxy hop: an
 * answer that leaves while the client is still sending breaks that hop's connection, and
 * the client gets the proxy's 503 ("Your worker restarted mid-request") in place of the
 * edge's 401, 404 or 413. A body that was read costs nothing here.
 */
import { LIMITS } from "../shared/index.ts";

/** The largest body a client of this edge sends on purpose (an artifact); an import's stream is read by its route. */
export const DRAIN_BYTES = LIMITS.maxArtifactBytes;

/** Answers `handle(request)` once the request's body, if nothing read it, has been read to its end. */
export async function answerAfterBody(request: Request, handle: (request: Request) => Response | Promise<Response>): Promise<Response> {
  const response = await handle(request);
  await drain(request);
  return response;
}

async function drain(request: Request): Promise<void> {
  const body = request.body;
  if (!body || request.bodyUsed || body.locked) return;
  const declared = Number(request.headers.get("content-length") ?? 0);
  const reader = body.getReader();
  if (declared > DRAIN_BYTES) return reader.cancel();
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > DRAIN_BYTES) return await reader.cancel();
    }
  } catch {
    // The client went away mid-body: nothing is waiting for the answer.
  }
}
