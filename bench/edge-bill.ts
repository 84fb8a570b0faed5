/**
 * The edge bill of one typical task, counted inside the real edge under `wrangler dev`
 * (`edge/meter.ts`, on with `--var TETHER_METER:1`) and priced at the Workers Paid list
 * prices beyond the plan's included usage.
 *
 * The task: a protocol runner (the real frames: control socket with hello and heartbeats,
 * data socket with `attach`, one event per frame as a runner sends them at a human pace, each
 * acked) takes it; two phones watch it on viewer sockets; 200 events, `turn.end` and
 * `waiting`; the user's follow-up over HTTP; 100 more events and `succeeded`. 300 runner
 * events in all over `minutes` of wall time (10 by default): nothing is compressed, so the
 * runner's heartbeats (every `HEARTBEAT_SECONDS`), the sockets' pings, the lease renewals
 * and alarms happen as often as in a real task of that length. The pings every socket sends
 * are answered by the runtime without waking an object; they are counted here, by the
 * clients that send them, and priced as incoming messages.
 *
 *   npx tsx bench/edge-bill.ts [minutes]     (prints the section and puts it in bench/results.md)
 */
import { pathToFileURL } from "node:url";
import WebSocket from "ws";
import { HEARTBEAT_SECONDS, PING_TEXT } from "../shared/index.ts";
import { startEdge } from "../test/support/edge.ts";
import { PhoneAPI } from "../test/support/phone-api.ts";
import { ScriptedRunner } from "../test/web-runner.ts";
import { replaceSection } from "./sections.ts";
import type { ObjectMeter } from "../shared/meter.ts";

/** Workers Paid list prices (https://developers.cloudflare.com/durable-objects/platform/pricing/). */
export const PRICES = {
  requestsPerMillion: 0.15,
  /** Incoming WebSocket messages are billed as requests at 20:1. */
  wsMessagesPerRequest: 20,
  gbSecondsPerMillion: 12.5,
  /** Duration is billed at the object's 128 MB. */
  objectGB: 128 / 1024,
  rowsReadPerMillion: 0.001,
  rowsWrittenPerMillion: 1.0,
  storedGBMonth: 0.2,
};
export const AIM_USD = 0.0005;
const EVENTS_FIRST_TURN = 200;
const EVENTS_FOLLOW_UP = 100;
const VIEWERS = 2;

export interface EdgeBill {
  minutes: number;
  objects: ObjectMeter[];
  /** Pings the clients sent, which the runtime answered without waking an object. */
  autoPings: number;
  /** How long the task's data is kept, for its stored bytes' share of a month. */
  storedMonths: number;
  cost: { requests: number; duration: number; rowsRead: number; rowsWritten: number; stored: number; total: number };
}

/** Rows `wrangler dev`'s own wrapper writes (its `__miniflare_*` tables record objects' names); Cloudflare has no such tables. */
export function localRows(o: ObjectMeter): number {
  return Object.entries(o.writes).reduce((n, [statement, rows]) => n + (statement.includes("__miniflare_") ? rows : 0), 0);
}

function price(objects: ObjectMeter[], autoPings: number, storedMonths: number): EdgeBill["cost"] {
  const sum = (f: (o: ObjectMeter) => number) => objects.reduce((n, o) => n + f(o), 0);
  const requests = sum((o) => o.http + o.rpc + o.alarms) + (sum((o) => o.wsMessages) + autoPings) / PRICES.wsMessagesPerRequest;
  const gbSeconds = (sum((o) => o.activeMs) / 1000) * PRICES.objectGB;
  const cost = {
    requests: (requests / 1e6) * PRICES.requestsPerMillion,
    duration: (gbSeconds / 1e6) * PRICES.gbSecondsPerMillion,
    rowsRead: (sum((o) => o.rowsRead) / 1e6) * PRICES.rowsReadPerMillion,
    rowsWritten: (sum((o) => o.rowsWritten - localRows(o)) / 1e6) * PRICES.rowsWrittenPerMillion,
    // The task's room is the task's; the Account's database is shared by all its tasks and runners.
    stored: (sum((o) => (o.class === "TaskRoom" ? o.storedBytes : 0)) / 2 ** 30) * PRICES.storedGBMonth * storedMonths,
    total: 0,
  };
  cost.total = cost.requests + cost.duration + cost.rowsRead + cost.rowsWritten + cost.stored;
  return cost;
}

async function meter(edgeURL: string): Promise<ObjectMeter[]> {
  const res = await fetch(`${edgeURL}/v1/_meter`);
  return ((await res.json()) as { objects: ObjectMeter[] }).objects;
}

/** The counts of `now` less those of `before` (the stored bytes stay as they are now). */
function since(now: ObjectMeter, before: ObjectMeter | undefined): ObjectMeter {
  if (!before) return now;
  const minus = (a: Record<string, number>, b: Record<string, number>) =>
    Object.fromEntries(Object.entries(a).map(([k, n]) => [k, n - (b[k] ?? 0)]).filter(([, n]) => (n as number) > 0));
  return {
    ...now,
    http: now.http - before.http,
    rpc: now.rpc - before.rpc,
    wsMessages: now.wsMessages - before.wsMessages,
    wsCloses: now.wsCloses - before.wsCloses,
    alarms: now.alarms - before.alarms,
    rowsRead: now.rowsRead - before.rowsRead,
    rowsWritten: now.rowsWritten - before.rowsWritten,
    activeMs: now.activeMs - before.activeMs,
    methods: minus(now.methods, before.methods),
    writes: minus(now.writes, before.writes),
  };
}

/** A raw viewer socket: counts the events it gets, pings like the phone app. */
async function openViewer(edgeURL: string, taskID: string, token: string): Promise<{ ws: WebSocket; seqs: Set<number> }> {
  const ws = new WebSocket(`${edgeURL.replace(/^http/, "ws")}/v1/tasks/${taskID}/ws?after=0`, ["tether.v1", `bearer.${token}`]);
  const seqs = new Set<number>();
  ws.on("message", (data) => {
    const frame = JSON.parse(String(data)) as { type: string; event?: { seq: number }; events?: { seq: number }[] };
    for (const e of frame.event ? [frame.event] : (frame.events ?? [])) seqs.add(e.seq);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, seqs };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchEdgeBill(minutes = 10): Promise<EdgeBill> {
  const edge = await startEdge({ vars: { TETHER_METER: "1" } });
  const runner = new ScriptedRunner(edge.url, ["bill"]);
  const viewers: { ws: WebSocket; seqs: Set<number> }[] = [];
  let beats: NodeJS.Timeout | undefined;
  try {
    const token = await edge.userToken("bill-user");
    const phone = new PhoneAPI(edge.url, token);
    await runner.register(token, "bill-runner");
    await runner.connect();
    // The runner's registration and connection are not the task's: counts start here.
    const before = await meter(edge.url);
    const created = await phone.createTask({ repo: { url: "https://example.com/bill.git" }, prompt: "a typical task", labels: ["bill"] });
    const task = await runner.take();
    for (let i = 0; i < VIEWERS; i++) viewers.push(await openViewer(edge.url, created.id, token));

    // Every HEARTBEAT_SECONDS: the runner's heartbeat on its control socket, and a ping on
    // each socket (control, data, viewers), as the runner and the phone app send them.
    let autoPings = 0;
    beats = setInterval(() => {
      runner.control?.send({ type: "heartbeat", tasks: [{ taskID: task.id, epoch: task.epoch }] });
      for (const ws of [runner.control?.ws, task.data?.ws, ...viewers.map((v) => v.ws)]) {
        if (ws?.readyState !== WebSocket.OPEN) continue;
        ws.send(PING_TEXT);
        autoPings++;
      }
    }, HEARTBEAT_SECONDS * 1000);

    const gapMs = (minutes * 60_000) / (EVENTS_FIRST_TURN + EVENTS_FOLLOW_UP + 4);
    const emitTurn = async (turn: number, count: number) => {
      for (let i = 0; i < count; i++) {
        await sleep(gapMs);
        if (i % 20 === 19) {
          await task.emit({ type: "usage", data: { model: "stand-in", inputTokens: 1200, outputTokens: 300, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0.004 } });
        } else {
          await task.emit({ type: "agent.text", data: { turn, text: `line ${i} of turn ${turn}: the agent explains what it does next, in a sentence or two.` } });
        }
      }
    };
    await task.emit({ type: "status", data: { status: "running" } });
    await emitTurn(0, EVENTS_FIRST_TURN - 3);
    await task.emit({ type: "turn.end", data: { turn: 0, stopReason: "end_turn" } });
    await task.emit({ type: "status", data: { status: "waiting" } });
    await sleep(gapMs);
    await phone.message(created.id, "also update the changelog");
    await task.nextCommand();
    await task.emit({ type: "status", data: { status: "running" } });
    await emitTurn(1, EVENTS_FOLLOW_UP - 1);
    await task.emit({ type: "status", data: { status: "succeeded" } });
    const last = (await phone.task(created.id)).lastSeq;
    const deadline = Date.now() + 30_000;
    while (viewers.some((v) => !v.seqs.has(last)) && Date.now() < deadline) await sleep(50);
    if (viewers.some((v) => !v.seqs.has(last))) throw new Error(`a viewer did not get the last event (${last})`);
    clearInterval(beats);
    for (const v of viewers) v.ws.close();
    runner.close();
    await sleep(1000);
    const objects = (await meter(edge.url)).map((o) => since(o, before.find((b) => b.class === o.class && b.name === o.name)));
    // A finished task's log is kept (no retention set): a month of its bytes is its share.
    const storedMonths = 1;
    return { minutes, objects, autoPings, storedMonths, cost: price(objects, autoPings, storedMonths) };
  } finally {
    clearInterval(beats);
    for (const v of viewers) v.ws.terminate();
    runner.close();
    await edge.dispose();
  }
}

const usd = (n: number) => `$${n.toFixed(7)}`;

export function edgeBillMarkdown(r: EdgeBill): string {
  const rows = r.objects.map(
    (o) =>
      `| ${o.class} | ${o.http} | ${o.rpc} | ${o.wsMessages} | ${o.alarms} | ${o.rowsRead} | ${o.rowsWritten} (${localRows(o)}) | ${(o.storedBytes / 1024).toFixed(0)} KB | ${(o.activeMs / 1000).toFixed(2)} s |`,
  );
  const methods = r.objects.map((o) => `${o.class}: ${Object.entries(o.methods).map(([m, n]) => `${m} ${n}`).join(", ") || "none"}`).join("; ");
  const writes = r.objects.map((o) => `${o.class}: ${Object.entries(o.writes).map(([q, n]) => `\`${q}…\` ${n}`).join(", ") || "none"}`).join("; ");
  return [
    "## Edge bill per task",
    "",
    `One typical task through the real edge under \`wrangler dev\`: 300 runner events (one per frame, each acked), ${VIEWERS} phones watching, a follow-up after the first turn, ${r.minutes} minutes of wall time, nothing compressed (heartbeats, pings, lease renewals and alarms as often as in a real task). Counted inside the edge by \`edge/meter.ts\` (\`TETHER_METER=1\`): requests where the edge calls a stub (HTTP, RPC) and where an object receives them (WebSocket messages, alarms), SQLite rows from each statement's cursor, the database's size, and each object's active time (the union of its handlers' and RPC calls' intervals; a handler without I/O counts 1 ms, as workerd's clock stands still while it runs). The ${r.autoPings} pings the runtime answered without waking an object are counted by the clients and priced as incoming messages.`,
    "",
    "| object | HTTP | RPC | WebSocket messages in | alarms | rows read | rows written (of which `wrangler dev`'s own) | stored | active |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `RPC calls: ${methods}. Rows written by statement: ${writes}. The rows \`wrangler dev\`'s wrapper writes in its \`__miniflare_*\` tables (the objects' names, at each wake-up) exist only locally and are not priced.`,
    "",
    `Priced at the Workers Paid list prices beyond the included usage ([Durable Objects pricing](https://developers.cloudflare.com/durable-objects/platform/pricing/): requests $${PRICES.requestsPerMillion}/million with incoming WebSocket messages at ${PRICES.wsMessagesPerRequest}:1, duration $${PRICES.gbSecondsPerMillion}/million GB-s at 128 MB; SQLite storage: rows read $${PRICES.rowsReadPerMillion}/million, rows written $${PRICES.rowsWrittenPerMillion}/million, stored data $${PRICES.storedGBMonth}/GB-month, the task's room kept for ${r.storedMonths} month; the Account's database, shared by all of an account's tasks and runners, is not charged to one task):`,
    "",
    "| requests | duration | rows read | rows written | stored | **total per task** | aim |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    `| ${usd(r.cost.requests)} | ${usd(r.cost.duration)} | ${usd(r.cost.rowsRead)} | ${usd(r.cost.rowsWritten)} | ${usd(r.cost.stored)} | **${usd(r.cost.total)}** | ≤ $${AIM_USD} ${r.cost.total <= AIM_USD ? "✓" : "✗"} |`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const minutes = Number(process.argv[2] ?? 10);
  const md = edgeBillMarkdown(await benchEdgeBill(minutes));
  console.log(md);
  if (minutes === 10) replaceSection("Edge bill per task", md);
}
