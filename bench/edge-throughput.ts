/**
 * `npm run bench:edge`: the edge's event path under `wrangler dev`, measured from Node.
 *
 * One runner data socket streams `log` events into one task while 1 or 50 viewer sockets
 * watch it; events/s is counted from the first send until every viewer holds the last
 * event. Latency is one event per frame, sent only after the previous one reached the
 * viewer, from the runner's send to the viewer's receive. A plain `ws` echo round trip on
 * loopback is measured in the same run for scale. Every loop is bounded by a count and
 * a deadline. Prints a table and writes bench/results-edge.md.
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { resolve } from "node:path";
import WebSocket, { WebSocketServer } from "ws";
import { CAPS } from "../shared/index.ts";
import { mintUserToken } from "../scripts/token.ts";
import { startEdge, type WranglerEdge } from "../test/support/edge.ts";

const DEADLINE_MS = 120_000;
const WINDOW_FRAMES = 32;

type Row = { scenario: string; events: number; seconds: number; eventsPerSecond: number };

/** Frames received and not yet taken, per socket, kept from the very start (a replay can come with the 101). */
type Inbox = { frames: any[]; wake: (() => void) | null; listener: (data: WebSocket.RawData) => void };
const inboxes = new WeakMap<WebSocket, Inbox>();

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { headers, perMessageDeflate: false });
    const inbox: Inbox = {
      frames: [],
      wake: null,
      listener: (data) => {
        inbox.frames.push(JSON.parse(String(data)));
        inbox.wake?.();
      },
    };
    inboxes.set(ws, inbox);
    ws.on("message", inbox.listener);
    ws.once("open", () => res(ws));
    ws.once("error", rej);
    ws.once("unexpected-response", (_q, r) => rej(new Error(`upgrade of ${url} answered ${r.statusCode}`)));
  });
}

/** Takes the first frame of `type` from the socket's inbox, waiting up to 15 s. */
async function nextFrame(ws: WebSocket, type: string): Promise<any> {
  const inbox = inboxes.get(ws)!;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const at = inbox.frames.findIndex((f) => f.type === type);
    if (at >= 0) return inbox.frames.splice(at, 1)[0];
    if (Date.now() > deadline) throw new Error(`no ${type} frame in 15 s`);
    await new Promise<void>((r) => {
      inbox.wake = r;
      setTimeout(r, 100);
    });
  }
}

/** Stops keeping frames: from here on the measurement's own listener reads them. */
function settle(ws: WebSocket): void {
  const inbox = inboxes.get(ws);
  if (inbox) ws.off("message", inbox.listener);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

class Edge {
  private constructor(
    readonly dev: WranglerEdge,
    private readonly user: string,
    private readonly credential: string,
    private readonly control: WebSocket,
  ) {}

  static async start(): Promise<Edge> {
    const dev = await startEdge();
    const user = await mintUserToken({ user: "bench", days: 1, secret: dev.secret });
    const reg = (await (await fetch(`${dev.url}/v1/runners/registration-tokens`, { method: "POST", headers: { authorization: `Bearer ${user}` } })).json()) as any;
    const registered = (await (
      await fetch(`${dev.url}/v1/runners/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: reg.token }) })
    ).json()) as any;
    const control = await open(`${dev.url.replace("http", "ws")}/v1/runner/connect`, { authorization: `Bearer ${registered.credential}` });
    const welcome = nextFrame(control, "welcome");
    control.send(JSON.stringify({ type: "hello", version: "bench", labels: [], capacity: 64, tasks: [] }));
    await welcome;
    return new Edge(dev, user, registered.credential, control);
  }

  /** A new task, accepted, with the runner's data socket attached. */
  async task(): Promise<{ taskID: string; data: WebSocket }> {
    const assigned = nextFrame(this.control, "assign");
    const res = await fetch(`${this.dev.url}/v1/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.user}`, "content-type": "application/json" },
      body: JSON.stringify({ repo: { url: "https://example.com/bench.git" }, prompt: "bench" }),
    });
    const { task } = (await res.json()) as any;
    const { assignment } = await assigned;
    this.control.send(JSON.stringify({ type: "accept", taskID: task.id, epoch: assignment.epoch }));
    const data = await open(`${this.dev.url.replace("http", "ws")}/v1/runner/tasks/${task.id}/ws`, { authorization: `Bearer ${this.credential}` });
    const attached = nextFrame(data, "attached");
    data.send(JSON.stringify({ type: "attach", taskID: task.id, epoch: assignment.epoch, afterCommandSeq: 0 }));
    await attached;
    return { taskID: task.id, data };
  }

  async viewer(taskID: string): Promise<{ ws: WebSocket; lastSeq: number }> {
    const ws = await open(`${this.dev.url.replace("http", "ws")}/v1/tasks/${taskID}/ws?after=0`, { authorization: `Bearer ${this.user}` });
    const replayed = await nextFrame(ws, "replayed");
    return { ws, lastSeq: replayed.lastSeq };
  }

  async stop(): Promise<void> {
    this.control.close();
    await this.dev.dispose();
  }
}

function logEvents(from: number, count: number): unknown[] {
  const ts = new Date().toISOString();
  return Array.from({ length: count }, (_, i) => ({ rseq: from + i, ts, type: "log", data: { level: "info", message: `line ${from + i} of the benchmark output` } }));
}

/** Streams `total` events in frames of `perFrame` into a fresh task watched by `viewers` sockets. */
async function throughput(edge: Edge, viewers: number, perFrame: number, total: number): Promise<Row> {
  const { taskID, data } = await edge.task();
  const watchers = await Promise.all(Array.from({ length: viewers }, () => edge.viewer(taskID)));
  settle(data);
  for (const w of watchers) settle(w.ws);
  const base = watchers[0]!.lastSeq;
  const target = base + total;
  let acked = 0;
  let closed = "";
  data.once("close", (code, reason) => {
    closed = ` (closed ${code} ${String(reason)})`;
  });
  let ackWaiter: (() => void) | null = null;
  data.on("message", (raw) => {
    const frame = JSON.parse(String(raw));
    if (frame.type === "ack") {
      acked = frame.rseq;
      ackWaiter?.();
    }
    if (frame.type === "error") console.error("runner error frame", frame);
  });
  const done = Promise.all(
    watchers.map(
      ({ ws }) =>
        new Promise<void>((res) => {
          // The last `"seq":` of a frame is its newest event; reading just that keeps the
          // client's parsing cost (many viewers on two cores) out of the edge's figure.
          ws.on("message", (raw) => {
            const text = String(raw);
            const at = text.lastIndexOf('"seq":');
            if (at >= 0 && Number.parseInt(text.slice(at + 6, at + 26), 10) >= target) res();
          });
        }),
    ),
  );
  const started = performance.now();
  const deadline = Date.now() + DEADLINE_MS;
  let sent = 0;
  while (sent < total) {
    if (Date.now() > deadline) throw new Error(`throughput run passed its deadline: ${sent} sent, ${acked} acked, data socket state ${data.readyState}${closed}`);
    if (sent - acked >= WINDOW_FRAMES * perFrame) {
      await new Promise<void>((r) => {
        ackWaiter = r;
        setTimeout(r, 1000);
      });
      continue;
    }
    const n = Math.min(perFrame, total - sent);
    data.send(JSON.stringify({ type: "events", taskID, epoch: 1, events: logEvents(sent + 1, n) }));
    sent += n;
  }
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error("viewers did not catch up in time")), DEADLINE_MS))]);
  const seconds = (performance.now() - started) / 1000;
  for (const w of watchers) w.ws.close();
  data.close();
  const label = `${perFrame === 1 ? "1 event" : `${perFrame} events`} per frame, ${viewers} viewer${viewers === 1 ? "" : "s"}`;
  return { scenario: label, events: total, seconds, eventsPerSecond: total / seconds };
}

/** Runner send → viewer receive, one event at a time. */
async function latency(edge: Edge, count: number): Promise<number[]> {
  const { taskID, data } = await edge.task();
  const { ws } = await edge.viewer(taskID);
  settle(data);
  settle(ws);
  const samples: number[] = [];
  let waiting: ((t: number) => void) | null = null;
  ws.on("message", () => waiting?.(performance.now()));
  for (let i = 1; i <= count; i++) {
    const got = new Promise<number>((res, rej) => {
      waiting = res;
      setTimeout(() => rej(new Error("latency sample timed out")), 10_000);
    });
    const t0 = performance.now();
    data.send(JSON.stringify({ type: "events", taskID, epoch: 1, events: logEvents(i, 1) }));
    samples.push((await got) - t0);
  }
  ws.close();
  data.close();
  return samples.sort((a, b) => a - b);
}

async function echoRoundTrips(count: number): Promise<number[]> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => server.once("listening", r));
  server.on("connection", (s) => s.on("message", (m) => s.send(m)));
  const port = (server.address() as { port: number }).port;
  const ws = await open(`ws://127.0.0.1:${port}`);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const back = new Promise((r) => ws.once("message", r));
    ws.send(JSON.stringify({ type: "ping", i }));
    await back;
    samples.push(performance.now() - t0);
  }
  ws.close();
  await new Promise((r) => server.close(r));
  return samples.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  const echo = await echoRoundTrips(2000);
  const edge = await Edge.start();
  const rows: Row[] = [];
  try {
    // Viewers and single-event frames stay within the caps (CAPS): a task's viewers, and a
    // data socket's burst of frames.
    const viewers = CAPS.maxViewersPerTask;
    const singleFrames = 2 * CAPS.runnerFramesPerSecond;
    rows.push(await throughput(edge, 1, 100, 50_000));
    rows.push(await throughput(edge, viewers, 100, 20_000));
    rows.push(await throughput(edge, 1, 1, singleFrames));
    rows.push(await throughput(edge, viewers, 1, singleFrames));
    const lat = await latency(edge, 1000);
    const f = (n: number) => n.toFixed(2);
    const table = [
      "| scenario | events | seconds | events/s |",
      "|---|---:|---:|---:|",
      ...rows.map((r) => `| ${r.scenario} | ${r.events} | ${r.seconds.toFixed(2)} | ${Math.round(r.eventsPerSecond).toLocaleString("en")} |`),
      "",
      "| latency (ms) | p50 | p99 | samples |",
      "|---|---:|---:|---:|",
      `| runner → DO (SQLite) → viewer, under wrangler dev | ${f(percentile(lat, 50))} | ${f(percentile(lat, 99))} | ${lat.length} |`,
      `| plain ws echo round trip, loopback | ${f(percentile(echo, 50))} | ${f(percentile(echo, 99))} | ${echo.length} |`,
    ].join("\n");
    console.log(table);
    const md = [
      "# Edge throughput (bench/edge-throughput.ts)",
      "",
      `Run ${new Date().toISOString()} on ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Node ${process.version}, \`wrangler dev\` (workerd, local SQLite).`,
      `Load average (1 min) ${loadBefore.toFixed(2)} before the run, ${loadavg()[0]!.toFixed(2)} after: other processes share the machine, so figures swing with it.`,
      "One runner data socket streams `log` events into one task (at most 32 unacked frames in flight); events/s runs from",
      "the first send until every viewer holds the last event. Latency: one event per frame, the next sent after the viewer got the last.",
      "",
      table,
      "",
    ].join("\n");
    writeFileSync(resolve(import.meta.dirname, "results-edge.md"), md);
  } finally {
    await edge.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
