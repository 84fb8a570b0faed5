/**
 * Event latency: a worker's stdout line → a phone's viewer socket, through the real runner
 * process (journal, batching, data socket) and the real edge under `wrangler dev` (TaskRoom,
 * SQLite, fan-out). The worker is a stand-in built FROM the worker image that writes agent
 * events stamped with the wall clock (container and host share it), one every 20 ms; the
 * viewer subtracts the stamp from its own clock when the event arrives. Beside it, a plain
 * `ws` echo round trip on loopback. Runs with the runner's default batching (`batchMaxMs` 10)
 * and with `batchMaxMs` 0.
 *
 *   npx tsx bench/event-latency.ts
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import WebSocket, { WebSocketServer } from "ws";
import { E2EStack } from "../test/support/e2e-stack.ts";
import { ViewerSocket } from "../test/support/viewer-socket.ts";
import { ScriptedRunner } from "../test/web-runner.ts";
import { DEFAULT_WORKER_IMAGE } from "../worker-image/build.ts";
import { ms, summarize, type Summary, wallNow } from "./stats.ts";

const STAMPS = 300;
/** Runner batching and the worker's pace between events, one run each. */
const CONFIGS = [
  { batchMaxMs: 10, gapMs: 20 },
  { batchMaxMs: 0, gapMs: 20 },
  { batchMaxMs: 10, gapMs: 3 },
];
const STAMP_IMAGE = "tether-bench-stamp:local";

/** The stand-in worker: on `start`, STAMPS agent.text events stamped at the moment of writing, the pace in ms being the prompt, then turn.end. */
const STAMP_WORKER = String.raw`
import { createInterface } from "node:readline";
const rl = createInterface({ input: process.stdin });
let wseq = 0;
const write = (type, data) => process.stdout.write(JSON.stringify({ wseq: ++wseq, type, data }) + "\n");
process.on("SIGTERM", () => process.exit(130));
rl.on("line", async (line) => {
  const msg = JSON.parse(line);
  if (msg.type === "cancel") process.exit(130);
  if (msg.type !== "start") return;
  wseq = msg.lastWseq ?? 0;
  const gap = Number(msg.task.prompt);
  for (let i = 0; i < ${STAMPS}; i++) {
    await new Promise((r) => setTimeout(r, gap));
    write("agent.text", { turn: 0, text: "stamp " + (performance.timeOrigin + performance.now()).toFixed(3) });
  }
  write("turn.end", { turn: 0, stopReason: "end_turn" });
});
rl.on("close", () => process.exit(0));
`;

export interface PipelineLatency {
  batchMaxMs: number;
  gapMs: number;
  latency: Summary;
  /** Worker line → the runner's journal (the event's `ts`, whole milliseconds). */
  toRunner: Summary;
  /** The runner's journal → the viewer. */
  fromRunner: Summary;
}

export interface EventLatencyResult {
  pipeline: PipelineLatency[];
  /** A bare protocol runner (no journal, no container) sending one stamped event every 20 ms: the edge's share. */
  edgeOnly: Summary;
  wsEcho: Summary;
}

function buildStampImage(): void {
  const dir = mkdtempSync(join(tmpdir(), "tether-bench-stamp-"));
  try {
    writeFileSync(join(dir, "stamp.mjs"), STAMP_WORKER);
    const base = process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;
    writeFileSync(join(dir, "Dockerfile"), `FROM ${base}\nCOPY stamp.mjs /opt/tether/stamp.mjs\nENTRYPOINT ["node", "/opt/tether/stamp.mjs"]\n`);
    execFileSync("docker", ["build", "-q", "-t", STAMP_IMAGE, dir], { stdio: "pipe" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pipelineLatency(stack: E2EStack, batchMaxMs: number, gapMs: number): Promise<PipelineLatency> {
  const label = `batch-${batchMaxMs}`;
  if (!stack.runners.some((r) => r.options.labels?.includes(label))) {
    await stack.addRunner({ name: `latency-${batchMaxMs}`, capacity: 1, labels: [label], env: { TETHER_WORKER_IMAGE: STAMP_IMAGE, TETHER_BATCH_MAX_MS: String(batchMaxMs) } });
  }
  const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: String(gapMs), labels: [label] });
  const viewer = await ViewerSocket.open(stack.edge.url, task.id, stack.token);
  await viewer.waitForStatus("running", 60_000);
  const latencies: number[] = [];
  const toRunner: number[] = [];
  const fromRunner: number[] = [];
  const seen = new Set<number>();
  const deadline = Date.now() + 60_000;
  while (latencies.length < STAMPS && Date.now() < deadline) {
    for (const e of viewer.events) {
      if (seen.has(e.seq) || e.type !== "agent.text") continue;
      seen.add(e.seq);
      const stamp = Number(/^stamp ([\d.]+)$/.exec(String(e.data.text))?.[1]);
      const at = viewer.receivedWallAt.get(e.seq);
      if (!Number.isFinite(stamp) || at === undefined) continue;
      latencies.push(at - stamp);
      toRunner.push(Date.parse(e.ts) - stamp);
      fromRunner.push(at - Date.parse(e.ts));
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await stack.phone.cancel(task.id);
  await viewer.waitForStatus("cancelled", 60_000);
  await viewer.close();
  if (latencies.length < STAMPS) throw new Error(`only ${latencies.length} of ${STAMPS} stamped events arrived`);
  // The first events queue behind the data socket's attach; the steady state is what counts.
  return { batchMaxMs, gapMs, latency: summarize(latencies.slice(20)), toRunner: summarize(toRunner.slice(20)), fromRunner: summarize(fromRunner.slice(20)) };
}

/** Stamped events at a viewer: receive time minus the stamp in each `agent.text`. */
function stampLatencies(viewer: ViewerSocket): number[] {
  const out: number[] = [];
  for (const e of viewer.events) {
    const stamp = Number(/^stamp ([\d.]+)$/.exec(String(e.type === "agent.text" ? e.data.text : ""))?.[1]);
    const at = viewer.receivedWallAt.get(e.seq);
    if (Number.isFinite(stamp) && at !== undefined) out.push(at - stamp);
  }
  return out;
}

async function edgeOnlyLatency(stack: E2EStack): Promise<Summary> {
  const runner = new ScriptedRunner(stack.edge.url, ["bare"]);
  await runner.register(stack.token, "bare-protocol-runner");
  await runner.connect();
  const created = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "bare", labels: ["bare"] });
  const task = await runner.take();
  const viewer = await ViewerSocket.open(stack.edge.url, created.id, stack.token);
  try {
    await task.emit({ type: "status", data: { status: "running" } });
    for (let i = 0; i < STAMPS; i++) {
      await new Promise((r) => setTimeout(r, 20));
      await task.emit({ type: "agent.text", data: { turn: 0, text: `stamp ${wallNow().toFixed(3)}` } });
    }
    await viewer.waitFor("the last stamp", () => stampLatencies(viewer).length >= STAMPS, 30_000);
    await task.emit({ type: "status", data: { status: "cancelled" } });
    return summarize(stampLatencies(viewer).slice(20));
  } finally {
    await viewer.close();
    runner.close();
  }
}

async function wsEcho(samples = 2000): Promise<Summary> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (ws) => ws.on("message", (data) => ws.send(data)));
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise<void>((resolve, reject) => {
    client.once("open", () => resolve());
    client.once("error", reject);
  });
  const times: number[] = [];
  for (let i = 0; i < samples + 200; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      client.once("message", () => resolve());
      client.send(`{"type":"ping","i":${i}}`);
    });
    if (i >= 200) times.push(performance.now() - t0);
  }
  client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return summarize(times);
}

export async function benchEventLatency(): Promise<EventLatencyResult> {
  buildStampImage();
  const stack = new E2EStack();
  try {
    await stack.start();
    const pipeline = [];
    for (const { batchMaxMs, gapMs } of CONFIGS) pipeline.push(await pipelineLatency(stack, batchMaxMs, gapMs));
    return { pipeline, edgeOnly: await edgeOnlyLatency(stack), wsEcho: await wsEcho() };
  } finally {
    await stack.dispose();
  }
}

export function eventLatencyMarkdown(r: EventLatencyResult): string {
  const rows = r.pipeline.map(
    (p) => `| worker stdout line → viewer socket, an event every ${p.gapMs} ms, runner \`batchMaxMs\` ${p.batchMaxMs}${p.batchMaxMs === 10 ? " (default)" : ""} | ${ms(p.latency.median)} | ${ms(p.latency.p99)} | ${ms(p.latency.max)} | ${p.latency.n} | ${ms(p.toRunner.median)} | ${ms(p.fromRunner.median)} |`,
  );
  return [
    "## Event latency",
    "",
    `A stand-in worker (built FROM the worker image) writes an \`agent.text\` event stamped with the wall clock every 20 ms (or 3 ms); the real runner journals and relays it, the edge under \`wrangler dev\` stores and fans it out, and a viewer socket subtracts the stamp on arrival. The first 20 of ${STAMPS} events are left out (they queue behind the data socket's attach). Aim: p50 ≤ 2 ms, p99 ≤ 10 ms.`,
    "",
    "The split uses the event's `ts`, which the runner sets (whole milliseconds) when it journals the line: worker → runner covers the container's stdout through the Docker engine's attach stream to the runner's parser and journal; runner → viewer covers the batch wait, the data socket, the TaskRoom's write and the fan-out.",
    "",
    "| path | p50 | p99 | max | samples | p50 worker → runner | p50 runner → viewer |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...rows,
    `| the edge's share: a bare protocol runner (no journal, no container) → viewer socket, an event every 20 ms | ${ms(r.edgeOnly.median)} | ${ms(r.edgeOnly.p99)} | ${ms(r.edgeOnly.max)} | ${r.edgeOnly.n} | | |`,
    `| plain \`ws\` echo round trip, loopback | ${ms(r.wsEcho.median)} | ${ms(r.wsEcho.p99)} | ${ms(r.wsEcho.max)} | ${r.wsEcho.n} | | |`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(eventLatencyMarkdown(await benchEventLatency()));
}
