/**
 * Internal to edge/task-room/: the phones' viewer sockets. A task takes at most
 * `CAPS.maxViewersPerTask` of them (another gets a 429 upgrade answer); each one's frames
 * per second are capped in memory (a hibernation starts them afresh). A viewer's message,
 * finish, cancel or approval answer runs as the user's command through the room's `runCommand`; a refused
 * one comes back as an error frame.
 */
import { CAPS, ErrorCode, LIMITS, ViewerToEdge, errorFrameOf, parseFrame, unhandledFrame, type Task } from "../../shared/index.ts";
import { errorResponse } from "../http-error.ts";
import { SocketRates } from "../rate-limit.ts";
import type { Refusal, UserCommand } from "./commands.ts";
import type { RoomState } from "./room-state.ts";
import { sendError, sendToViewer, type ViewerAttachment } from "./sockets.ts";
import type { RoomRecord } from "./store.ts";

/** Logs a user's command and hands it on; the room's, shared with its `command` RPC. */
export type RunCommand = (room: RoomRecord, by: string, command: UserCommand) => { task: Task; seq: number } | Refusal;

export class ViewerSockets {
  readonly rates = new SocketRates(CAPS.viewerFramesPerSecond);

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly state: RoomState,
    private readonly runCommand: RunCommand,
  ) {}

  /** The 429 answer to one viewer more than the task's cap; null while there is room. */
  refuseJoin(task: Task): Response | null {
    if (this.ctx.getWebSockets("viewer").length < CAPS.maxViewersPerTask) return null;
    return errorResponse(ErrorCode.RateLimited, `task ${task.id} has ${CAPS.maxViewersPerTask} viewers, its cap`);
  }

  async onFrame(ws: WebSocket, viewer: ViewerAttachment, message: string | ArrayBuffer): Promise<void> {
    const parsed = parseFrame(ViewerToEdge, message, LIMITS.maxViewerFrameBytes);
    if (!parsed.ok) return sendError(ws, parsed.error);
    const frame = parsed.value;
    switch (frame.type) {
      case "ping":
        return sendToViewer(ws, { type: "pong" });
      case "message":
        return this.command(ws, viewer, { kind: "message", text: frame.text });
      case "finish":
      case "cancel":
        return this.command(ws, viewer, { kind: frame.type });
      case "approval":
        return this.command(ws, viewer, { kind: "approval", approvalID: frame.approvalID, decision: frame.decision, ...(frame.text ? { text: frame.text } : {}) });
      default:
        return unhandledFrame(frame);
    }
  }

  private command(ws: WebSocket, viewer: ViewerAttachment, command: UserCommand): void {
    const room = this.state.load()!;
    const result = this.runCommand(room, viewer.user, command);
    if ("code" in result) sendError(ws, errorFrameOf(result.code, result.message, room.task.id));
  }
}
