/**
 * A phone's view of one task for end-to-end tests: the viewer WebSocket opened as a browser
 * opens it (`Sec-WebSocket-Protocol: tether.v1, bearer.<jwt>`, `after=`), every frame parsed
 * with the shared `EdgeToViewer` schema, and bounded waits that say what did arrive when
 * what was awaited did not. Like a phone, it reconnects with `after=` the last seq it holds
 * when the edge drops the socket (a restart or a reload closes every socket); `reconnects`
 * counts those.
 */
import WebSocket from "ws";
import type { Event } from "../../shared/events.ts";
import { EdgeToViewer } from "../../shared/protocol.ts";

/** One line per event, for failure messages: `seq type detail`. */
export function describeEvents(events: Event[]): string {
  return events
    .map((e) => {
      const d = e.data as Record<string, unknown>;
      const detail = e.type === "status" ? `${String(d.status)}${d.reason ? ` (${String(d.reason)})` : ""}` : JSON.stringify(d).slice(0, 100);
      return `  ${e.seq} ${e.type} ${detail}`;
    })
    .join("\n");
}

export class ViewerSocket {
  readonly events: Event[] = [];
  /** Frames that are not events (`replayed`, `pong`, `error`), in order. */
  readonly frames: EdgeToViewer[] = [];
  readonly invalid: string[] = [];
  /** When each event arrived, as wall-clock milliseconds with sub-millisecond precision. */
  readonly receivedWallAt = new Map<number, number>();
  /** Why the socket is closed for good (closed by the test, or the edge could not be reached again). */
  closed: string | null = null;
  reconnects = 0;
  #ws: WebSocket | null = null;
  #wake: Array<() => void> = [];

  private constructor(
    readonly edgeURL: string,
    readonly taskID: string,
    readonly token: string,
    readonly deflate: boolean,
  ) {}

  /** `deflate`: offer permessage-deflate, as browsers do (a benchmark turns it off: Node's ws inflates on its thread pool, a hop a browser's socket does not take). */
  static async open(edgeURL: string, taskID: string, token: string, after = 0, options: { deflate?: boolean } = {}): Promise<ViewerSocket> {
    const viewer = new ViewerSocket(edgeURL, taskID, token, options.deflate ?? true);
    viewer.#ws = await viewer.#connect(after);
    return viewer;
  }

  async #connect(after: number): Promise<WebSocket> {
    const url = `${this.edgeURL.replace(/^http/, "ws")}/v1/tasks/${this.taskID}/ws?after=${after}`;
    const ws = new WebSocket(url, ["tether.v1", `bearer.${this.token}`], { perMessageDeflate: this.deflate });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`viewer socket ${url}: no answer within 15 s`));
      }, 15_000);
      ws.once("open", () => {
        clearTimeout(timer);
        if (ws.protocol !== "tether.v1") reject(new Error(`viewer socket selected ${JSON.stringify(ws.protocol)}, not tether.v1`));
        else resolve();
      });
      ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`viewer socket refused: ${res.statusCode}`));
      });
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    ws.on("message", (data) => this.#frame(String(data)));
    ws.on("close", (code, reason) => {
      if (this.#ws !== ws || this.closed !== null) return;
      this.#ws = null;
      void this.#resume(`${code} ${String(reason)}`);
    });
    return ws;
  }

  /** Reconnects with `after=` the last seq held, for up to 90 s. */
  async #resume(why: string): Promise<void> {
    const deadline = Date.now() + 90_000;
    while (this.closed === null) {
      try {
        this.#ws = await this.#connect(this.lastSeq);
        this.reconnects += 1;
        return;
      } catch (err) {
        if (Date.now() > deadline) {
          this.closed = `dropped (${why}) and not reachable again within 90 s: ${String(err)}`;
          this.#notify();
          return;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  #frame(text: string): void {
    const now = performance.timeOrigin + performance.now();
    const parsed = EdgeToViewer.safeParse(JSON.parse(text));
    if (!parsed.success) {
      this.invalid.push(text.slice(0, 300));
    } else if (parsed.data.type === "event") {
      this.#add(parsed.data.event, now);
    } else if (parsed.data.type === "events") {
      for (const e of parsed.data.events) this.#add(e, now);
    } else {
      this.frames.push(parsed.data);
    }
    this.#notify();
  }

  #add(event: Event, now: number): void {
    this.events.push(event);
    this.receivedWallAt.set(event.seq, now);
  }

  #notify(): void {
    for (const w of this.#wake.splice(0)) w();
  }

  get lastSeq(): number {
    return this.events.at(-1)?.seq ?? 0;
  }

  /** Waits until `match` holds for some event; fails after `timeoutMs` listing every event that came. */
  async waitFor(what: string, match: (e: Event) => boolean, timeoutMs = 60_000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.closed !== null) {
        const why = this.closed !== null ? `the socket closed (${this.closed})` : `${timeoutMs} ms passed`;
        throw new Error(`viewer waited for ${what}, but ${why}; ${this.events.length} events came:\n${describeEvents(this.events).slice(-5000)}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.#wake.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for a `status` event with one of `statuses`. */
  waitForStatus(statuses: string | string[], timeoutMs = 60_000): Promise<Event> {
    const wanted = typeof statuses === "string" ? [statuses] : statuses;
    return this.waitFor(`status ${wanted.join(" or ")}`, (e) => e.type === "status" && wanted.includes(String(e.data.status)), timeoutMs);
  }

  /** Sends a frame on the open socket (fails while it is reconnecting). */
  send(frame: unknown): void {
    if (!this.#ws) throw new Error("the viewer socket is not open");
    this.#ws.send(JSON.stringify(frame));
  }

  /** Closes the socket for good, as a phone that goes away does. */
  async close(): Promise<void> {
    if (this.closed !== null) return;
    this.closed = "closed by the test";
    const ws = this.#ws;
    this.#ws = null;
    this.#notify();
    if (!ws) return;
    const done = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    ws.close();
    await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
    ws.terminate();
  }
}
