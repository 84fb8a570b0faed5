/**
 * Internal to the TaskRoom: who is on each socket (kept in the hibernation attachment), how
 * an upgrade the Worker forwarded is read, and the send and close helpers. Every frame the
 * room sends goes through a typed helper: `sendToViewer` and `sendToRunner` take a frame of
 * the socket's union, `sendAll` takes text that `frames.ts` serialized from such a frame.
 * All of them end in `sendFrame`, the one place that calls `ws.send`: a socket that closed
 * meanwhile throws there, and that is caught, so answering a frame on a closed socket never
 * throws out of a handler (its close handler tidies up).
 */
import {
  ErrorCode,
  SUBPROTOCOL,
  answerCloseCode,
  type CloseCode,
  type EdgeToRunnerData,
  type EdgeToViewer,
  type ErrorFrame,
} from "../../shared/index.ts";
import { errorResponse } from "../http-error.ts";
import type { FrameText } from "./frames.ts";

/** `socketID` names the socket for the room's in-memory rates. */
export type ViewerAttachment = { role: "viewer"; socketID: string; user: string };
/** `epoch` is set once the socket has attached as the lease holder of that epoch. */
export type RunnerAttachment = { role: "runner"; socketID: string; runnerID: string; epoch: number | null };
export type Attachment = ViewerAttachment | RunnerAttachment;

/**
 * Reads who is connecting (the Worker set the identity headers) and from where a viewer
 * resumes; a request that is not a socket of this room gets its error response.
 */
export function readUpgrade(request: Request): { attachment: Attachment; after: number } | Response {
  if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") return notFound();
  const url = new URL(request.url);
  const user = request.headers.get("x-tether-user");
  const runnerID = request.headers.get("x-tether-runner");
  const socketID = crypto.randomUUID();
  if (url.pathname === "/runner" && runnerID) return { attachment: { role: "runner", socketID, runnerID, epoch: null }, after: 0 };
  if (url.pathname !== "/viewer" || !user) return notFound();
  const raw = url.searchParams.get("after") ?? "0";
  if (!/^\d{1,15}$/.test(raw)) {
    return errorResponse(ErrorCode.BadRequest, "after must be a non-negative integer");
  }
  return { attachment: { role: "viewer", socketID, user }, after: Number(raw) };
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

/**
 * The one call of `ws.send`. False when the socket is closed or closing (then `send`
 * throws); the frame is dropped and the caller goes on.
 */
function sendFrame(ws: WebSocket, text: string): boolean {
  try {
    ws.send(text);
    return true;
  } catch {
    return false;
  }
}

/** An error frame, which both of the room's sockets carry. */
export function sendError(ws: WebSocket, frame: ErrorFrame): void {
  sendFrame(ws, JSON.stringify(frame));
}

export function sendToViewer(ws: WebSocket, frame: EdgeToViewer): void {
  sendFrame(ws, JSON.stringify(frame));
}

export function sendToRunner(ws: WebSocket, frame: EdgeToRunnerData): void {
  sendFrame(ws, JSON.stringify(frame));
}

/** False when the socket is closed: a caller sending a series stops there. */
export function sendText(ws: WebSocket, frame: FrameText<EdgeToViewer | EdgeToRunnerData>): boolean {
  return sendFrame(ws, frame);
}

/** Sends one serialized frame to many sockets; one closing meanwhile does not stop the others. */
export function sendAll(sockets: Iterable<WebSocket>, frame: FrameText<EdgeToViewer | EdgeToRunnerData>): void {
  for (const ws of sockets) sendFrame(ws, frame);
}

export function closeSocket(ws: WebSocket, code: CloseCode, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}

/** Completes a close the peer started, with its code when that may be sent back. */
export function answerClose(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(answerCloseCode(code), reason.slice(0, 120));
  } catch {
    // Already closed.
  }
}
