/**
 * Event latency: a worker's stdout line → a phone's viewer socket, through the real runner
 * process (journal, batching, data socket) and the real edge under `wrangler dev` (TaskRoom,
 * SQLite, fan-out). The worker is a stand-in built FROM the worker image that writes agent
 * events stamped with the wall clock (container and host share it), one every 20 ms; the
 * viewer subtracts the stamp from its own clock when the event arrives. Beside it, a plain
 * `ws` echo round trip on loopback, back to back and at the same paces. Runs with the runner's
 * default batching (`batchMaxMs` 10) and with `batchMaxMs` 0.
 *
 * Where the time goes at a human pace: the edge's share alone (a bare protocol runner) with
 * the edge's state on tmpfs and on disk, and the fsyncs the edge's workerd makes per event
 * (counted by `strace -c` on a separate pass, when strace is installed). workerd's local
 * SQLite fsyncs its WAL at every commit and the output gate holds the ack and the fan-out
 * until then; on an idle virtual disk that flush takes milliseconds. The pipeline runs with
 * the edge's state on tmpfs (`/dev/shm`) when the machine has it.
 *
 *   npx tsx bench/event-latency.ts
 */
import { execFileSync, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import WebSocket, { WebSocketServer } from "ws";
import { startEdge } from "../test/support/edge.ts";
import { E2EStack } from "../test/support/e2e-stack.ts";
import { PhoneAPI } from "../test/support/phone-api.ts";
import { ViewerSocket } from "../test/support/viewer-socket.ts";
import { ScriptedRunner } from "../test/web-runner.ts";
import { DEFAULT_WORKER_IMAGE } from "../worker-image/build.ts";
import { replaceSection } from "./sections.ts";
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

export interface EdgeShare {
  /** Where the edge kept its state. */
  state: "tmpfs" | "disk";
  gapMs: number;
  latency: Summary;
}

export interface FsyncCount {
  state: "tmpfs" | "disk";
  perEvent: number;
  meanMs: number;
}

export interface EventLatencyResult {
  /** Where the pipeline's edge kept its state. */
  pipelineState: "tmpfs" | "disk";
  pipeline: PipelineLatency[];
  /** A bare protocol runner (no journal, no container) sending one stamped event at a pace: the edge's share. */
  edgeOnly: EdgeShare[];
  /** fsyncs of the edge's workerd per event (null without strace). */
  fsyncs: FsyncCount[] | null;
  wsEcho: Summary;
  /** The same echo, one round trip every `gapMs`. */
  wsEchoPaced: { gapMs: number; latency: Summary }[];
  load: number[];
}

/** A folder on tmpfs for the edge's state, when the machine has one. */
function tmpfsRoot(): string | null {
  try {
    accessSync("/dev/shm", constants.W_OK);
    return readFileSync("/proc/mounts", "utf8").includes(" /dev/shm tmpfs ") ? "/dev/shm" : null;
  } catch {
    return null;
  }
}

function hasStrace(): boolean {
  try {
    execFileSync("strace", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The workerd processes this process started (through wrangler). */
function workerdPIDs(): string[] {
  const children = (pid: string): string[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  };
  const all: string[] = [];
  const walk = (pid: string) => {
    for (const child of children(pid)) {
      all.push(child);
      walk(child);
    }
  };
  walk(String(process.pid));
  return all.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "workerd";
    } catch {
      return false;
    }
  });
}

/** Counts the fsyncs of the running edge's workerd while `run` sends `events` events. */
async function countFsyncs(events: number, run: () => Promise<unknown>): Promise<{ perEvent: number; meanMs: number } | null> {
  const pids = workerdPIDs();
  const strace = spawn("strace", ["--seccomp-bpf", "-f", "-c", "-w", "-e", "trace=fsync,fdatasync", ...pids.flatMap((p) => ["-p", p])], { stdio: ["ignore", "ignore", "pipe"] });
  let out = "";
  strace.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
  await new Promise((r) => setTimeout(r, 1000));
  const attachFailed = strace.exitCode !== null;
  await run();
  if (strace.exitCode === null) {
    const exited = new Promise((r) => strace.once("exit", r));
    strace.kill("SIGINT");
    await exited;
  }
  let calls = 0;
  let seconds = 0;
  for (const line of out.split("\n")) {
    const m = /^\s*[\d.]+\s+([\d.]+)\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync)\s*$/.exec(line);
    if (!m) continue;
    seconds += Number(m[1]);
    calls += Number(m[2]);
  }
  // strace that could not attach (no ptrace here) says nothing about fsyncs.
  if (attachFailed || /attach: ptrace|Operation not permitted/.test(out)) return null;
  return { perEvent: calls / events, meanMs: calls ? (seconds * 1000) / calls : 0 };
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

async function edgeOnlyLatency(edgeURL: string, token: string, gapMs: number, count = STAMPS): Promise<Summary> {
  const runner = new ScriptedRunner(edgeURL, ["bare"]);
  await runner.register(token, "bare-protocol-runner");
  await runner.connect();
  const created = await new PhoneAPI(edgeURL, token).createTask({ repo: { url: "https://example.com/bare.git" }, prompt: "bare", labels: ["bare"] });
  const task = await runner.take();
  const viewer = await ViewerSocket.open(edgeURL, created.id, token);
  try {
    await task.emit({ type: "status", data: { status: "running" } });
    for (let i = 0; i < count; i++) {
      await new Promise((r) => setTimeout(r, gapMs));
      await task.emit({ type: "agent.text", data: { turn: 0, text: `stamp ${wallNow().toFixed(3)}` } });
    }
    await viewer.waitFor("the last stamp", () => stampLatencies(viewer).length >= count, 30_000);
    await task.emit({ type: "status", data: { status: "cancelled" } });
    return summarize(stampLatencies(viewer).slice(20));
  } finally {
    await viewer.close();
    runner.close();
  }
}

/** The edge's share on an edge of its own with its state under `root`, and its fsyncs per event. */
async function edgeShare(root: string, state: "tmpfs" | "disk", strace: boolean): Promise<{ shares: EdgeShare[]; fsync: FsyncCount | null }> {
  process.env.TETHER_EDGE_STATE_ROOT = root;
  const edge = await startEdge();
  try {
    const token = await edge.userToken("latency-user");
    const shares: EdgeShare[] = [];
    for (const gapMs of [20, 3]) shares.push({ state, gapMs, latency: await edgeOnlyLatency(edge.url, token, gapMs) });
    const counted = strace ? await countFsyncs(100, () => edgeOnlyLatency(edge.url, token, 20, 100)) : null;
    return { shares, fsync: counted && { state, ...counted } };
  } finally {
    await edge.dispose();
  }
}

async function wsEcho(samples = 2000, gapMs = 0): Promise<Summary> {
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (ws) => ws.on("message", (data) => ws.send(data)));
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise<void>((resolve, reject) => {
    client.once("open", () => resolve());
    client.once("error", reject);
  });
  const warmUp = gapMs ? 20 : 200;
  const times: number[] = [];
  for (let i = 0; i < samples + warmUp; i++) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      client.once("message", () => resolve());
      client.send(`{"type":"ping","i":${i}}`);
    });
    if (i >= warmUp) times.push(performance.now() - t0);
  }
  client.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return summarize(times);
}

export async function benchEventLatency(): Promise<EventLatencyResult> {
  buildStampImage();
  const tmpfs = tmpfsRoot();
  const strace = hasStrace();
  const stateBefore = process.env.TETHER_EDGE_STATE_ROOT;
  try {
    const edgeOnly: EdgeShare[] = [];
    const fsyncs: FsyncCount[] = [];
    for (const [root, state] of [[tmpfs, "tmpfs"], [tmpdir(), "disk"]] as const) {
      if (!root) continue;
      const share = await edgeShare(root, state, strace);
      edgeOnly.push(...share.shares);
      if (share.fsync) fsyncs.push(share.fsync);
    }
    process.env.TETHER_EDGE_STATE_ROOT = tmpfs ?? tmpdir();
    const stack = new E2EStack();
    const pipeline = [];
    try {
      await stack.start();
      for (const { batchMaxMs, gapMs } of CONFIGS) pipeline.push(await pipelineLatency(stack, batchMaxMs, gapMs));
    } finally {
      await stack.dispose();
    }
    const wsEchoPaced = [];
    for (const gapMs of [20, 3]) wsEchoPaced.push({ gapMs, latency: await wsEcho(STAMPS - 20, gapMs) });
    return { pipelineState: tmpfs ? "tmpfs" : "disk", pipeline, edgeOnly, fsyncs: fsyncs.length > 0 ? fsyncs : null, wsEcho: await wsEcho(), wsEchoPaced, load: loadavg() };
  } finally {
    if (stateBefore === undefined) delete process.env.TETHER_EDGE_STATE_ROOT;
    else process.env.TETHER_EDGE_STATE_ROOT = stateBefore;
  }
}

export function eventLatencyMarkdown(r: EventLatencyResult): string {
  const echoAt = (gapMs: number) => r.wsEchoPaced.find((e) => e.gapMs === gapMs)?.latency.median ?? r.wsEcho.median;
  const ratio = (value: number, gapMs: number) => `${(value / echoAt(gapMs)).toFixed(0)} ×`;
  const rows = r.pipeline.map(
    (p) =>
      `| worker stdout line → viewer socket, an event every ${p.gapMs} ms, runner \`batchMaxMs\` ${p.batchMaxMs}${p.batchMaxMs === 10 ? " (default)" : ""}, edge state on ${r.pipelineState} | ${ms(p.latency.median)} | ${ms(p.latency.p99)} | ${ms(p.latency.max)} | ${p.latency.n} | ${ratio(p.latency.median, p.gapMs)} | ${ms(p.toRunner.median)} | ${ms(p.fromRunner.median)} |`,
  );
  const shares = r.edgeOnly.map(
    (e) => `| the edge's share: a bare protocol runner → viewer socket, an event every ${e.gapMs} ms, edge state on ${e.state} | ${ms(e.latency.median)} | ${ms(e.latency.p99)} | ${ms(e.latency.max)} | ${e.latency.n} | ${ratio(e.latency.median, e.gapMs)} | | |`,
  );
  const echoes = [
    `| plain \`ws\` echo round trip, loopback, back to back | ${ms(r.wsEcho.median)} | ${ms(r.wsEcho.p99)} | ${ms(r.wsEcho.max)} | ${r.wsEcho.n} | | | |`,
    ...r.wsEchoPaced.map((e) => `| plain \`ws\` echo round trip, loopback, one every ${e.gapMs} ms | ${ms(e.latency.median)} | ${ms(e.latency.p99)} | ${ms(e.latency.max)} | ${e.latency.n} | | | |`),
  ];
  const fsyncs =
    r.fsyncs === null
      ? "strace is not installed here (or may not attach), so the fsyncs were not counted."
      : r.fsyncs.map((f) => `edge state on ${f.state}: ${f.perEvent.toFixed(2)} fsyncs per event, ${ms(f.meanMs)} each on average`).join("; ") + " (`strace -c -w`, wall-clock time in the call, on the edge's workerd during a separate pass of 100 events every 20 ms).";
  const aims = r.pipeline
    .filter((p) => p.batchMaxMs === 10)
    .map((p) => `an event every ${p.gapMs} ms: p50 ${ms(p.latency.median)} ${p.latency.median <= 2 ? "✓" : "✗"}, p99 ${ms(p.latency.p99)} ${p.latency.p99 <= 10 ? "✓" : "✗"}`)
    .join("; ");
  return [
    "## Event latency",
    "",
    `A stand-in worker (built FROM the worker image) writes an \`agent.text\` event stamped with the wall clock every 20 ms (or 3 ms); the real runner journals and relays it, the edge under \`wrangler dev\` stores and fans it out, and a viewer socket subtracts the stamp on arrival. The first 20 of ${STAMPS} events are left out (they queue behind the data socket's attach). Aim: p50 ≤ 2 ms, p99 ≤ 10 ms at both paces. Load average at the end ${r.load.map((l) => l.toFixed(1)).join(" / ")}.`,
    "",
    "The split uses the event's `ts`, which the runner sets (whole milliseconds, cut down, so about half a millisecond moves from the first part to the second) when it journals the line: worker → runner covers the container's stdout through the Docker engine's attach stream to the runner's parser and journal; runner → viewer covers the batch wait, the data socket, the TaskRoom's write and the fan-out. The ratio is to a plain `ws` echo round trip at the same pace.",
    "",
    "| path | p50 | p99 | max | samples | p50 ÷ ws echo | p50 worker → runner | p50 runner → viewer |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    ...shares,
    ...echoes,
    "",
    `Where the time goes at a human pace: the edge commits each event in one SQLite transaction, and the output gate holds the runner's ack and the viewers' frames until it is durable. Under \`wrangler dev\` that is workerd's local SQLite, which fsyncs its WAL at every commit: ${fsyncs} On a disk that idles between events each flush costs about a millisecond or more (above), on tmpfs next to nothing, and the edge's share moves with it (the disk and tmpfs rows); with the state on tmpfs the same code, the same transaction and the same output gate remain. On Cloudflare a commit is confirmed by replication, not by a local fsync. The rest is each process waking from idle (the paced \`ws\` echo shows the cost of one round trip; an event passes the Docker engine, the runner, wrangler's proxy and workerd on its way) and, not measured apart here, \`wrangler dev\`'s proxy (a second workerd process each way) and the runner's wait for an ack when events come faster than the edge acks them (the 3 ms rows).`,
    "",
    `Against the aims (runner defaults, edge state on ${r.pipelineState}): ${aims}.`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const md = eventLatencyMarkdown(await benchEventLatency());
  console.log(md);
  replaceSection("Event latency", md);
}
