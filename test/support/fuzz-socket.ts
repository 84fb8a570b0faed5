/**
 * A raw WebSocket for the edge fuzz run: it sends whatever it is given (text or binary),
 * counts what comes back (error frames by code, pongs, other frames by type), and has one
 * barrier: `settle()` sends `BARRIER_TEXT`, a ping the edge's object answers in order (not
 * the runtime's auto-response), so its pong means every frame before it has been handled.
 * `pace()` sends a batch of frames pipelined at a given rate, settling once per batch.
 */
import WebSocket from "ws";

/** A ping spelled so it reaches the object (the exact `PING_TEXT` is answered by the runtime, out of order). */
export const BARRIER_TEXT = '{"type":"ping","v":1}';
/** How long one barrier ping waits for its pong before another is sent (a ping over a rate cap is dropped). */
const BARRIER_RETRY_MS = 1000;
const BARRIER_TRIES = 30;
const OPEN_TIMEOUT_MS = 20_000;

export class FuzzSocket {
  /** Error frames received, by code. */
  readonly errors = new Map<string, number>();
  /** Frames received that are neither errors nor pongs, by type. */
  readonly others = new Map<string, number>();
  readonly received: Array<{ type?: string; [k: string]: unknown }> = [];
  pongs = 0;
  sent = 0;
  closed: number | null = null;
  #wake: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      let frame: { type?: string; code?: string };
      try {
        frame = JSON.parse(String(data));
      } catch {
        frame = { type: "not json" };
      }
      this.received.push(frame);
      if (frame.type === "pong") this.pongs++;
      else if (frame.type === "error") bump(this.errors, String(frame.code));
      else bump(this.others, String(frame.type));
      this.#notify();
    });
    ws.on("close", (code) => {
      this.closed = code;
      this.#notify();
    });
    ws.on("error", () => {});
  }

  /** Opens a socket, or answers the status of a refused upgrade (-1: no answer). */
  static open(url: string, headers: Record<string, string>): Promise<FuzzSocket | number> {
    const ws = new WebSocket(url, [], { headers, handshakeTimeout: OPEN_TIMEOUT_MS });
    const socket = new FuzzSocket(ws);
    return new Promise((resolve) => {
      ws.once("open", () => resolve(socket));
      ws.once("unexpected-response", (_req, res) => {
        res.resume();
        ws.terminate();
        resolve(res.statusCode ?? 0);
      });
      ws.once("error", () => resolve(-1));
    });
  }

  get open(): boolean {
    return this.closed === null && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame: string | Uint8Array): boolean {
    if (!this.open) return false;
    this.ws.send(frame);
    this.sent++;
    return true;
  }

  /** Waits until `done()` holds, the socket closes, or `ms` pass; answers `done()`. */
  async until(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done() && this.closed === null && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.#wake.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return done();
  }

  /** Every frame sent before it has been handled (its pong came back); false when the socket closed first. */
  async settle(): Promise<boolean> {
    for (let attempt = 0; attempt < BARRIER_TRIES && this.open; attempt++) {
      const before = this.pongs;
      this.send(BARRIER_TEXT);
      if (await this.until(() => this.pongs > before, BARRIER_RETRY_MS)) return true;
    }
    return false;
  }

  /**
   * Sends `frames` pipelined in batches of `perBatch` (the barrier included), one batch per
   * `perBatch / perSecond` seconds, settling after each: a steady rate under the edge's cap.
   * Stops early when the socket closes; answers how many of `frames` it sent.
   */
  async pace(frames: Array<string | Uint8Array>, perSecond: number, perBatch: number): Promise<number> {
    let sent = 0;
    while (sent < frames.length && this.open) {
      const started = Date.now();
      for (const frame of frames.slice(sent, sent + perBatch - 1)) {
        if (!this.send(frame)) return sent;
        sent++;
      }
      if (!(await this.settle())) return sent;
      const wait = started + (perBatch * 1000) / perSecond - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    return sent;
  }

  close(): void {
    this.ws.close();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const fn of wake) fn();
  }
}

export function bump(map: Map<string, number>, key: string, n = 1): void {
  map.set(key, (map.get(key) ?? 0) + n);
}
