/**
 * The runners' control sockets (internal to edge/account/): one per runner (tag and
 * attachment = runner id; hibernation), a newer one replacing the older. The socket says
 * `hello` (labels, capacity, what it holds), then `heartbeat`s, `accept`s and `reject`s,
 * which go to the queue; the edge sends `welcome`, `assign` and `revoke`. Frames per second
 * of each runner are capped in memory. A runner is live with an open socket and a heartbeat
 * within SILENT_SECONDS, and ready for dispatch once it has said hello, unless its hello said
 * it takes no new tasks (`draining`, with why: its journal's disk is full, it is stopping).
 * Its last sign of life lives in the socket's attachment and reaches SQLite only now and
 * then (`last-seen.ts`).
 */
import {
  CAPS,
  CloseCode,
  ErrorCode,
  HEARTBEAT_SECONDS,
  LEASE_SECONDS,
  LIMITS,
  SILENT_HEARTBEATS,
  RunnerToEdgeControl,
  answerCloseCode,
  errorFrameOf,
  parseFrame,
  unhandledFrame,
  type EdgeToRunnerControl,
} from "../../shared/index.ts";
import { errorResponse } from "../http-error.ts";
import { SocketRates } from "../rate-limit.ts";
import { lastSeenDue, latestSeen, seenMs } from "./last-seen.ts";
import type { TaskQueue } from "./queue.ts";
import type { AccountStore, RunnerRow } from "./store.ts";

/** A runner silent this long (missed heartbeats) is offline even if its socket looks open. */
const SILENT_SECONDS = SILENT_HEARTBEATS * HEARTBEAT_SECONDS;

/** `seenAt`: the runner's last sign of life on this socket (ms). */
type ControlAttachment = { runnerID: string; hello: boolean; draining?: string; seenAt: number };

export class ControlSockets {
  /** Frames per second of each runner's control socket (one at a time), in memory. */
  private readonly rates = new SocketRates(CAPS.runnerFramesPerSecond);

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly store: AccountStore,
    private readonly queue: TaskQueue,
    private readonly rememberAccount: (accountID: string) => void,
  ) {}

  /** Accepts a registered runner's control socket (the Worker checked its credential), closing its older one. */
  upgrade(request: Request): Response {
    const url = new URL(request.url);
    const runnerID = request.headers.get("x-tether-runner");
    const accountID = request.headers.get("x-tether-account");
    if (url.pathname !== "/control" || request.headers.get("upgrade")?.toLowerCase() !== "websocket" || !runnerID || !accountID) {
      return errorResponse(ErrorCode.NotFound, "no such endpoint");
    }
    const runner = this.store.getRunner(runnerID);
    if (runner === null) {
      return errorResponse(ErrorCode.NotFound, "no such runner");
    }
    this.rememberAccount(accountID);
    this.close(runnerID, CloseCode.Replaced, "replaced by a newer connection");
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [runnerID]);
    this.seen(server, { runnerID, hello: false, seenAt: 0 }, runner);
    return new Response(null, { status: 101, webSocket: client });
  }

  async onMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const att = ws.deserializeAttachment() as ControlAttachment | null;
    if (!att) return;
    try {
      if (!this.rates.take(att.runnerID)) return sendTo(ws, errorFrameOf(ErrorCode.RateLimited, "too many frames: the frame was dropped, slow down"));
      const parsed = parseFrame(RunnerToEdgeControl, message, LIMITS.maxControlFrameBytes);
      if (!parsed.ok) return sendTo(ws, parsed.error);
      const frame = parsed.value;
      switch (frame.type) {
        case "hello": {
          const now = Date.now();
          this.store.updateRunnerHello(att.runnerID, frame.labels, frame.capacity, frame.version, new Date(now).toISOString());
          ws.serializeAttachment({ runnerID: att.runnerID, hello: true, ...(frame.draining ? { draining: frame.draining } : {}), seenAt: now } satisfies ControlAttachment);
          if (frame.draining && !att.draining) console.log({ msg: "runner takes no new tasks", runnerID: att.runnerID, why: frame.draining });
          sendTo(ws, { type: "welcome", runnerID: att.runnerID, heartbeatSeconds: HEARTBEAT_SECONDS, leaseSeconds: LEASE_SECONDS });
          await this.queue.renewHeld(att.runnerID, frame.tasks);
          await this.queue.dispatch();
          return;
        }
        case "heartbeat": {
          const before = this.store.getRunner(att.runnerID);
          const wasLive = before !== null && this.isLive(before);
          if (before) this.seen(ws, att, before);
          await this.queue.renewHeld(att.runnerID, frame.tasks);
          // A runner that was counted offline is back: its free slots count again.
          if (before && !wasLive) await this.queue.dispatch();
          return;
        }
        case "accept":
          return this.queue.accept(att.runnerID, frame.taskID, frame.epoch);
        case "reject":
          return await this.queue.reject(att.runnerID, frame.taskID, frame.epoch, frame.reason);
        case "ping":
          return sendTo(ws, { type: "pong" });
        default:
          return unhandledFrame(frame);
      }
    } catch (err) {
      console.error({ msg: "control frame failed", runnerID: att.runnerID, err: String(err) });
      sendTo(ws, errorFrameOf(ErrorCode.Internal, "the edge could not handle this frame"));
    }
  }

  /** Completes a close the runner started, and stores the socket's last sign of life. */
  onClose(ws: WebSocket, code: number, reason: string): void {
    this.storeSeen(ws);
    try {
      ws.close(answerCloseCode(code), reason);
    } catch {
      // Already closed by the runtime.
    }
  }

  onError(ws: WebSocket, error: unknown): void {
    const att = ws.deserializeAttachment() as ControlAttachment | null;
    console.error({ msg: "control socket error", runnerID: att?.runnerID, err: String(error) });
    this.storeSeen(ws);
  }

  /** The runner's row with its last sign of life: the later of the stored one and its sockets'. */
  fresh(r: RunnerRow): RunnerRow {
    const seen = this.ctx.getWebSockets(r.id).map((ws) => (ws.deserializeAttachment() as ControlAttachment | null)?.seenAt ?? 0);
    return { ...r, lastSeenAt: latestSeen(r.lastSeenAt, seen) };
  }

  /**
   * Online: an open control socket and a heartbeat within SILENT_SECONDS. A socket whose
   * peer vanished can look open for minutes; its missing heartbeats tell.
   */
  isLive(r: RunnerRow): boolean {
    return this.sockets(r.id).length > 0 && Date.now() - seenMs(this.fresh(r).lastSeenAt) <= SILENT_SECONDS * 1000;
  }

  /** Online, and has said hello on its control socket without saying it is draining: dispatch may hand it tasks. */
  isReady(r: RunnerRow): boolean {
    return this.isLive(r) && this.sockets(r.id).some((ws) => {
      const att = ws.deserializeAttachment() as ControlAttachment | null;
      return att?.hello === true && !att.draining;
    });
  }

  /** Why an online runner said it takes no new tasks, if it did. */
  drainingReason(runnerID: string): string | undefined {
    for (const ws of this.sockets(runnerID)) {
      const reason = (ws.deserializeAttachment() as ControlAttachment | null)?.draining;
      if (reason) return reason;
    }
    return undefined;
  }

  send(runnerID: string, frame: EdgeToRunnerControl): void {
    for (const ws of this.sockets(runnerID)) sendTo(ws, frame);
  }

  close(runnerID: string, code: CloseCode, reason: string): void {
    for (const ws of this.sockets(runnerID)) ws.close(code, reason);
  }

  /** A sign of life on the socket: in its attachment, and in SQLite when the stored one is due (`last-seen.ts`). */
  private seen(ws: WebSocket, att: ControlAttachment, stored: RunnerRow): void {
    const now = Date.now();
    ws.serializeAttachment({ ...att, seenAt: now } satisfies ControlAttachment);
    if (lastSeenDue(stored.lastSeenAt, now)) this.store.touchRunner(stored.id, new Date(now).toISOString());
  }

  /** Writes the socket's last sign of life to SQLite when it is later than the stored one. */
  private storeSeen(ws: WebSocket): void {
    const att = ws.deserializeAttachment() as ControlAttachment | null;
    const stored = att ? this.store.getRunner(att.runnerID) : null;
    if (!att || !stored || att.seenAt <= seenMs(stored.lastSeenAt)) return;
    this.store.touchRunner(att.runnerID, new Date(att.seenAt).toISOString());
  }

  private sockets(runnerID: string): WebSocket[] {
    return this.ctx.getWebSockets(runnerID).filter((ws) => ws.readyState === WebSocket.OPEN);
  }
}

function sendTo(ws: WebSocket, frame: EdgeToRunnerControl): void {
  try {
    ws.send(JSON.stringify(frame));
  } catch (err) {
    console.error({ msg: "send on control socket failed", err: String(err) });
  }
}
