import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { CloseCode, HEARTBEAT_SECONDS } from "../../shared/sockets.ts";
import { EdgeSocket } from "./edge-socket.ts";
import { FakeEdge } from "../testing/fake-edge.ts";

const logger = pino({ level: "silent" });
const fastBackoff = { baseMs: 10, capMs: 40, stableMs: 60_000 };

let edge: FakeEdge;
let base: string;
beforeEach(async () => {
  edge = new FakeEdge();
  base = (await edge.listen()).replace("http", "ws");
});
afterEach(async () => {
  await edge.close();
});

function open(credential = edge.credential, heartbeatMs = HEARTBEAT_SECONDS * 1000) {
  const seen = { opened: 0, messages: [] as string[], fatal: [] as string[], beats: 0, retries: 0 };
  // A reconnect is only ever scheduled with a delay drawn from the backoff: each draw is one retry.
  const backoff = { ...fastBackoff, random: () => ((seen.retries += 1), Math.random()) };
  const socket = new EdgeSocket(
    { url: `${base}/v1/runner/connect`, credential, logger, backoff, heartbeatMs },
    {
      opened: () => {
        seen.opened += 1;
        socket.send({ type: "hello", version: "t", labels: [], capacity: 1, tasks: [] });
      },
      message: (t) => seen.messages.push(t),
      heartbeat: () => (seen.beats += 1),
      fatal: (r) => seen.fatal.push(r),
    },
  );
  socket.start();
  return { socket, seen };
}

describe("EdgeSocket", () => {
  it("says hello on every connection and reconnects after a drop", async () => {
    const { socket, seen } = open();
    await edge.until(() => seen.messages.length === 1, 5000, "welcome");
    edge.control!.terminate();
    await edge.until(() => seen.opened === 2 && seen.messages.length === 2, 5000, "second welcome");
    expect(edge.framesOf("hello")).toHaveLength(2);
    expect(socket.connections).toBe(2);
    await socket.stop();
    expect(socket.status).toBe("stopped");
  });

  it("keeps retrying while the edge is down, then connects", async () => {
    const port = new URL(base).port;
    await edge.close();
    const { socket, seen } = open();
    await edge.until(() => seen.retries >= 3, 5000, "three retries");
    expect(seen.opened).toBe(0);
    edge = new FakeEdge();
    await new Promise<void>((resolve) => edge.server.listen(Number(port), "127.0.0.1", resolve));
    await edge.until(() => seen.opened === 1, 5000, "connect after the edge came back");
    await socket.stop();
  });

  it("stops for good when the credential is refused at the upgrade", async () => {
    const { socket, seen } = open("wrong");
    await edge.until(() => seen.fatal.length === 1, 5000, "fatal");
    expect(seen.fatal[0]).toContain("HTTP 401");
    expect(seen.retries).toBe(0);
    expect(edge.controlConnects).toBe(0);
    expect(socket.status).toBe("stopped");
  });

  it("stops for good when closed as revoked", async () => {
    const { socket, seen } = open();
    await edge.until(() => seen.opened === 1, 5000, "open");
    edge.control!.close(CloseCode.Revoked, "credential revoked");
    await edge.until(() => seen.fatal.length === 1, 5000, "fatal");
    expect(seen.fatal[0]).toContain("revoked");
    expect(seen.retries).toBe(0);
    expect(edge.controlConnects).toBe(1);
    expect(socket.status).toBe("stopped");
  });

  it("heartbeats and tears down a link that stays silent", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, autoPong: false });
    await new Promise((r) => wss.once("listening", r));
    let connections = 0;
    wss.on("connection", () => (connections += 1));
    const port = (wss.address() as { port: number }).port;
    let beats = 0;
    const socket = new EdgeSocket(
      { url: `ws://127.0.0.1:${port}/v1/runner/connect`, credential: "x", logger, backoff: fastBackoff, heartbeatMs: 40 },
      { opened: () => undefined, message: () => undefined, heartbeat: () => (beats += 1), fatal: () => undefined },
    );
    socket.start();
    await edge.until(() => connections >= 2, 5000, "a reconnect after silence");
    expect(beats).toBeGreaterThanOrEqual(2);
    await socket.stop();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it("does not offer permessage-deflate, so frames go uncompressed both ways", async () => {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: { threshold: 0 } });
    await new Promise((r) => wss.once("listening", r));
    const offers: (string | undefined)[] = [];
    const extensions: string[] = [];
    wss.on("connection", (ws, req) => {
      offers.push(req.headers["sec-websocket-extensions"]);
      extensions.push(ws.extensions);
    });
    const port = (wss.address() as { port: number }).port;
    const socket = new EdgeSocket(
      { url: `ws://127.0.0.1:${port}/v1/runner/connect`, credential: "x", logger, backoff: fastBackoff },
      { opened: () => undefined, message: () => undefined, fatal: () => undefined },
    );
    socket.start();
    await edge.until(() => offers.length === 1, 5000, "the upgrade");
    expect(offers).toEqual([undefined]);
    expect(extensions).toEqual([""]);
    await socket.stop();
    await new Promise<void>((r) => wss.close(() => r()));
  });

  it("after the edge answered, the next drop retries from the shortest delay however long the outage before", async () => {
    const port = new URL(base).port;
    await edge.close();
    const records: { msg: string; retryInMs?: number }[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void records.push(JSON.parse(line)) });
    // The top of each draw: the delay says which attempt it was (20, 40, 80 … ms).
    const backoff = { baseMs: 20, capMs: 60_000, stableMs: 60_000, random: () => 0.999 };
    let answered = 0;
    const socket: EdgeSocket<unknown> = new EdgeSocket(
      { url: `${base}/v1/runner/connect`, credential: edge.credential, logger: log, backoff },
      {
        opened: () => socket.send({ type: "hello", version: "t", labels: [], capacity: 1, tasks: [] }),
        message: () => {
          answered += 1;
          socket.answered();
        },
        fatal: () => undefined,
      },
    );
    socket.start();
    const retries = () => records.filter((r) => r.retryInMs !== undefined).map((r) => r.retryInMs!);
    await edge.until(() => retries().length >= 5, 10_000, "five retries while the edge is down");
    expect(retries().slice(0, 5)).toEqual([19, 39, 79, 159, 319]);
    edge = new FakeEdge();
    await new Promise<void>((resolve) => edge.server.listen(Number(port), "127.0.0.1", resolve));
    await edge.until(() => answered === 1, 10_000, "welcome after the edge came back");
    const before = retries().length;
    edge.control!.terminate();
    await edge.until(() => retries().length > before, 5000, "a retry after the drop");
    expect(retries()[before]).toBe(19);
    await socket.stop();
  });
});
