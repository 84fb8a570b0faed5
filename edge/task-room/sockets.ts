/**
 * Internal to the TaskRoom: who is on each socket (kept in the hibernation attachment), how
 * an upgrade the Worker forwarded is read, and small send and close helpers.
 */
import { ErrorCode, type ErrorFrame } from "../../shared/index.ts";
import { errorResponse } from "../http-error.ts";

export type ViewerAttachment = { role: "viewer"; user: string };
/** `epoch` is set once the socket has attached as the lease holder of that epoch. */
export type RunnerAttachment = { role: "runner"; runnerID: string; epoch: number | null };
export type Attachment = ViewerAttachment | RunnerAttachment;

export const PING = '{"type":"ping"}';
export const PONG = '{"type":"pong"}';
export const SUBPROTOCOL = "tether.v1";

export const CLOSE_REVOKED = 4403;
/** Not final: attach again and resend after `ackedRseq`. */
export const CLOSE_RESYNC = 4408;
export const CLOSE_REPLACED = 4409;
export const CLOSE_GONE = 4410;

/**
 * Reads who is connecting (the Worker set the identity headers) and from where a viewer
 * resumes; a request that is not a socket of this room gets its error response.
 */
export function readUpgrade(request: Request): { attachment: Attachment; after: number } | Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return notFound();
  const url = new URL(request.url);
  const user = request.headers.get("x-tether-user");
  const runnerID = request.headers.get("x-tether-runner");
  if (url.pathname === "/runner" && runnerID) return { attachment: { role: "runner", runnerID, epoch: null }, after: 0 };
  if (url.pathname !== "/viewer" || !user) return notFound();
  const raw = url.searchParams.get("after") ?? "0";
  if (!/^\d{1,15}$/.test(raw)) {
    return errorResponse(ErrorCode.BadRequest, "after must be a non-negative integer");
  }
  return { attachment: { role: "viewer", user }, after: Number(raw) };
}

export function notFound(): Response {
  return errorResponse(ErrorCode.NotFound, "no such task socket");
}

/** The 101 answer, naming the subprotocol when the client offered any. */
export function switchingProtocols(request: Request, client: WebSocket): Response {
  const headers = new Headers();
  if (request.headers.has("Sec-WebSocket-Protocol")) headers.set("Sec-WebSocket-Protocol", SUBPROTOCOL);
  return new Response(null, { status: 101, webSocket: client, headers });
}

export function sendError(ws: WebSocket, frame: ErrorFrame): void {
  ws.send(JSON.stringify(frame));
}

/** Sends one string to many sockets; one closing meanwhile does not stop the others. */
export function sendAll(sockets: Iterable<WebSocket>, frame: string): void {
  for (const ws of sockets) {
    try {
      ws.send(frame);
    } catch {
      // A socket closing under us; its close handler tidies up.
    }
  }
}

export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}

/** Completes a close the peer started; 1005 and 1006 cannot be sent back, so 1000 goes instead. */
export function answerClose(ws: WebSocket, code: number, reason: string): void {
  closeSocket(ws, code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000, reason);
}
