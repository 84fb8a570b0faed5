/**
 * Internal, for tests: a stand-in edge on 127.0.0.1 that speaks the runner side of the
 * protocol just enough to drive the runner. It checks the credential, answers `hello` with
 * `welcome` and `attach` with `attached`, stores events once by `(epoch, rseq)` and acks them
 * cumulatively (unless told to hold acks), accepts diff.patch uploads and registrations, and
 * records every frame it receives. Tests push `assign`, `command` and `revoke` frames through it,
 * and can have it drop frames as the real edge drops those over its rate (`refuse`: the frame
 * is answered `rate_limited` and not handled).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import type { Command, EdgeToRunnerControl, EdgeToRunnerData, RunnerEvent } from "../../shared/protocol.ts";
import { HEARTBEAT_SECONDS, LEASE_SECONDS, PONG_TEXT } from "../../shared/sockets.ts";

export interface FakeTaskState {
  epoch: number;
  events: RunnerEvent[];
  commands: Command[];
  artifacts: Map<string, string>;
}

export class FakeEdge {
  readonly server: Server;
  private readonly wss: WebSocketServer;
  readonly credential = "cred-test";
  control: WebSocket | undefined;
  readonly data = new Map<string, WebSocket>();
  readonly tasks = new Map<string, FakeTaskState>();
  readonly received: { socket: string; frame: Record<string, unknown> }[] = [];
  readonly registrations: unknown[] = [];
  controlConnects = 0;
  dataConnects = 0;
  holdAcks = false;
  heartbeatSeconds = HEARTBEAT_SECONDS;
  /** Frames to drop with a `rate_limited` answer, as the edge drops those over its rate; `socket` is "control" or "task:<id>". */
  refuse: ((socket: string, frame: Record<string, unknown>) => boolean) | undefined;
  readonly refused: { socket: string; frame: Record<string, unknown> }[] = [];
  private waiters: (() => void)[] = [];

  constructor() {
    this.wss = new WebSocketServer({ noServer: true });
    this.server = createServer((req, res) => void this.http(req, res));
    this.server.on("upgrade", (req, socket, head) => {
      if (req.headers.authorization !== `Bearer ${this.credential}`) {
        socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req.url ?? ""));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  task(taskID: string, epoch = 1): FakeTaskState {
    let t = this.tasks.get(taskID);
    if (!t) {
      t = { epoch, events: [], commands: [], artifacts: new Map() };
      this.tasks.set(taskID, t);
    }
    return t;
  }

  sendControl(frame: EdgeToRunnerControl | Record<string, unknown> | string): void {
    this.control?.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Adds a user command to the task log and pushes it to an attached runner. */
  command(taskID: string, command: Command): void {
    this.task(taskID).commands.push(command);
    this.sendData(taskID, { type: "command", taskID, command });
  }

  framesOf(type: string): Record<string, unknown>[] {
    return this.received.filter((r) => r.frame.type === type).map((r) => r.frame);
  }

  /** Resolves once `check` holds, re-checked after every frame; rejects after `ms`. */
  async until(check: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + ms;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`fake edge: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  ackAll(taskID: string): void {
    const t = this.task(taskID);
    const last = t.events.at(-1)?.rseq ?? 0;
    this.sendData(taskID, { type: "ack", taskID, epoch: t.epoch, rseq: last });
  }

  private sendData(taskID: string, frame: EdgeToRunnerData): void {
    this.data.get(taskID)?.send(JSON.stringify(frame));
  }

  private accept(ws: WebSocket, url: string): void {
    const m = /^\/v1\/runner\/tasks\/([^/?]+)\/ws/.exec(url);
    const socket = m ? `task:${decodeURIComponent(m[1]!)}` : "control";
    if (m) {
      this.dataConnects += 1;
      this.data.set(decodeURIComponent(m[1]!), ws);
    } else {
      this.controlConnects += 1;
      this.control = ws;
    }
    ws.on("message", (raw) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(raw.toString()) as Record<string, unknown>;
      } catch {
        frame = { type: "(not json)", raw: raw.toString() };
      }
      if (this.refuse?.(socket, frame)) {
        this.refused.push({ socket, frame });
        ws.send(JSON.stringify({ type: "error", code: "rate_limited", message: "too many frames: the frame was dropped, slow down" }));
      } else {
        this.received.push({ socket, frame });
        this.handle(ws, frame);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  private handle(ws: WebSocket, frame: Record<string, unknown>): void {
    const taskID = frame.taskID as string;
    switch (frame.type) {
      case "hello":
        ws.send(JSON.stringify({ type: "welcome", runnerID: "r1", heartbeatSeconds: this.heartbeatSeconds, leaseSeconds: LEASE_SECONDS } satisfies EdgeToRunnerControl));
        break;
      case "ping":
        ws.send(PONG_TEXT);
        break;
      case "attach": {
        const t = this.task(taskID, frame.epoch as number);
        const acked = t.events.at(-1)?.rseq ?? 0;
        const commands = t.commands.filter((c) => c.seq > (frame.afterCommandSeq as number));
        ws.send(JSON.stringify({ type: "attached", taskID, epoch: t.epoch, ackedRseq: acked, commands } satisfies EdgeToRunnerData));
        break;
      }
      case "events": {
        const t = this.task(taskID);
        for (const e of frame.events as RunnerEvent[]) {
          const last = t.events.at(-1)?.rseq ?? 0;
          if (e.rseq === last + 1) t.events.push(e);
        }
        if (!this.holdAcks) this.ackAll(taskID);
        break;
      }
    }
  }

  private async http(req: IncomingMessage, res: import("node:http").ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", "http://x");
    const art = /^\/v1\/runner\/tasks\/([^/]+)\/artifacts\/([^/]+)$/.exec(url.pathname);
    if (req.method === "POST" && url.pathname === "/v1/runners/register") {
      const parsed = JSON.parse(body) as { token?: string };
      this.registrations.push(parsed);
      if (parsed.token !== "reg-ok") {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "unauthorized", message: "bad registration token" } }));
        return;
      }
      res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ runner: { id: "r1" }, credential: this.credential }));
      return;
    }
    if (url.pathname === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
      return;
    }
    if (url.pathname === "/v1/runner/connect") {
      const authorized = req.headers.authorization === `Bearer ${this.credential}`;
      res.writeHead(authorized ? 426 : 401, { "content-type": "application/json" }).end("{}");
      return;
    }
    if (art && req.method === "PUT") {
      if (req.headers.authorization !== `Bearer ${this.credential}`) {
        res.writeHead(401).end();
        return;
      }
      this.task(decodeURIComponent(art[1]!)).artifacts.set(art[2]!, body);
      res.writeHead(201, { "content-type": "application/json" }).end("{}");
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { code: "not_found", message: "no route" } }));
  }
}
