/**
 * Event latency: a worker's stdout line → a phone's viewer socket, through the real runner
 * process (journal, batching, data socket) and the real edge (TaskRoom, SQLite, fan-out) in
 * workerd. The worker is a stand-in built FROM the worker image that writes agent events
 * stamped with the wall clock (container and host share it), one every 20 ms (or 3 ms); the
 * viewer subtracts the stamp from its own clock when the event arrives. Beside it, a plain
 * `ws` echo round trip on loopback, back to back and at the same paces.
 *
 * The edge runs under `wrangler dev`; the edge's share is also measured with Miniflare serving
 * the same bundle from one workerd, without the proxy worker `wrangler dev` puts in front (on
 * Cloudflare nothing sits between a socket and the Worker). The viewer does not offer
 * permessage-deflate (Node's ws inflates each frame on its thread pool, a hop a browser's
 * socket does not take); one run has it offer it, as browsers do.
 *
 * Where the time goes at a human pace: the edge's share alone (a bare protocol runner) with
 * the edge's state on tmpfs and on disk, and the fsyncs the edge's workerd makes per event
 * (counted by `strace -c` on a separate pass, when strace is installed). workerd's local
 * SQLite fsyncs its WAL at every commit and the output gate holds the ack and the fan-out
 * until then; on an idle virtual disk that flush takes milliseconds. The pipeline runs with
 * the edge's state on tmpfs (`/dev/shm`) when the machine has it.
 *
 * The machine's floor for the pipeline's shape: a line passed through as many processes as the
 * pipeline wakes on its way (Node relays on pipes that do nothing else), at the same paces.
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
import { bundleRunner } from "../runner/build.ts";
import { type LocalEdge, WranglerEdge } from "../test/support/edge.ts";
import { E2EStack } from "../test/support/e2e-stack.ts";
import { MiniflareEdge } from "../test/support/miniflare-edge.ts";
import { PhoneAPI } from "../test/support/phone-api.ts";
import { ViewerSocket } from "../test/support/viewer-socket.ts";
import { ScriptedRunner } from "../test/web-runner.ts";
import { DEFAULT_WORKER_IMAGE } from "../worker-image/build.ts";
import { replaceSection } from "./sections.ts";
import { ms, summarize, type Summary, wallNow } from "./stats.ts";

const STAMPS = 300;

/** What serves the edge: Miniflare (one workerd) or `wrangler dev` (its proxy worker in front). */
export type EdgeKind = "miniflare" | "wrangler dev";

function newEdge(kind: EdgeKind): LocalEdge {
  return kind === "miniflare" ? new MiniflareEdge() : new WranglerEdge();
}

/** The pipeline's runs, one each: the worker's pace, and whether the viewer offers permessage-deflate. */
const PIPELINE: { gapMs: number; deflate: boolean }[] = [
  { gapMs: 20, deflate: false },
  { gapMs: 3, deflate: false },
  { gapMs: 20, deflate: true },
];
const STAMP_IMAGE = "tether-bench-stamp:local";

/**
 * The processes an event wakes between the worker's write and the viewer's read: containerd-shim,
 * dockerd, the runner, `wrangler dev`'s proxy, workerd, the proxy again, the viewer.
 */
const PIPELINE_WAKES = 7;
/** A process that passes on what it reads, at once. */
const RELAY = `process.stdin.on("data", (d) => process.stdout.write(d));`;

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
  gapMs: number;
  /** The viewer offered permessage-deflate. */
  deflate: boolean;
  latency: Summary;
  /** Worker line → the runner's journal (the event's `ts`, whole milliseconds). */
  toRunner: Summary;
  /** The runner's journal → the viewer. */
  fromRunner: Summary;
}

export interface EdgeShare {
  edge: EdgeKind;
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

export interface RelayFloor {
  /** Processes woken per line: the relays and the reader. */
  wakes: number;
  gapMs: number;
  latency: Summary;
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
  /** A line through `PIPELINE_WAKES` processes that do nothing else, at each pace. */
  floor: RelayFloor[];
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

/** One run of stamped events through a stack whose runner (its defaults, the stamp image) is added at the first run. */
async function pipelineLatency(stack: E2EStack, run: (typeof PIPELINE)[number]): Promise<PipelineLatency> {
  if (stack.runners.length === 0) await stack.addRunner({ name: "latency", capacity: 1, env: { TETHER_WORKER_IMAGE: STAMP_IMAGE } });
  const { gapMs, deflate } = run;
  const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: String(gapMs) });
  const viewer = await ViewerSocket.open(stack.edge.url, task.id, stack.token, 0, { deflate });
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
  return { ...run, latency: summarize(latencies.slice(20)), toRunner: summarize(toRunner.slice(20)), fromRunner: summarize(fromRunner.slice(20)) };
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
  const viewer = await ViewerSocket.open(edgeURL, created.id, token, 0, { deflate: false });
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

/** The edge's share on an edge of its own with its state under `root`, and (when `strace`) its fsyncs per event. */
async function edgeShare(kind: EdgeKind, root: string, state: "tmpfs" | "disk", strace: boolean): Promise<{ shares: EdgeShare[]; fsync: FsyncCount | null }> {
  process.env.TETHER_EDGE_STATE_ROOT = root;
  const edge = newEdge(kind);
  try {
    await edge.start();
    const token = await edge.userToken("latency-user");
    const shares: EdgeShare[] = [];
    for (const gapMs of [20, 3]) shares.push({ edge: kind, state, gapMs, latency: await edgeOnlyLatency(edge.url, token, gapMs) });
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

/**
 * A line stamped in this process, passed through `wakes - 1` relay processes on pipes and read
 * back here, one every `gapMs`: what waking that many processes costs on this machine, with no
 * parse, no journal, no SQLite and no container.
 */
async function relayFloor(wakes: number, gapMs: number, samples = STAMPS): Promise<RelayFloor> {
  const relays = Array.from({ length: wakes - 1 }, () => spawn(process.execPath, ["-e", RELAY], { stdio: ["pipe", "pipe", "inherit"] }));
  relays.slice(1).forEach((relay, i) => relays[i]!.stdout.pipe(relay.stdin));
  const times: number[] = [];
  let partial = "";
  relays.at(-1)!.stdout.on("data", (chunk: Buffer) => {
    const at = performance.now();
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop()!;
    for (const line of lines) times.push(at - Number(line));
  });
  const arrived = async (n: number) => {
    const deadline = Date.now() + 30_000;
    while (times.length < n) {
      if (Date.now() > deadline) throw new Error(`relay floor: ${times.length} of ${n} lines came back`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  try {
    // Every relay has started once the first line is back.
    relays[0]!.stdin.write(`${performance.now()}\n`);
    await arrived(1);
    for (let i = 0; i < samples; i++) {
      await new Promise((r) => setTimeout(r, gapMs));
      relays[0]!.stdin.write(`${performance.now()}\n`);
    }
    await arrived(samples + 1);
    // Left out: the first line, and the next 20 as in the pipeline's runs.
    return { wakes, gapMs, latency: summarize(times.slice(21)) };
  } finally {
    for (const relay of relays) relay.kill();
  }
}

export async function benchEventLatency(): Promise<EventLatencyResult> {
  buildStampImage();
  // The runner as it ships: the bundle, not the sources through tsx.
  await bundleRunner();
  const tmpfs = tmpfsRoot();
  const strace = hasStrace();
  const stateBefore = process.env.TETHER_EDGE_STATE_ROOT;
  try {
    const edgeOnly: EdgeShare[] = [];
    const fsyncs: FsyncCount[] = [];
    const shares = [["wrangler dev", tmpfs, "tmpfs"], ["wrangler dev", tmpdir(), "disk"], ["miniflare", tmpfs, "tmpfs"]] as const;
    for (const [kind, root, state] of shares) {
      if (!root) continue;
      const share = await edgeShare(kind, root, state, strace && kind === "wrangler dev");
      edgeOnly.push(...share.shares);
      if (share.fsync) fsyncs.push(share.fsync);
    }
    process.env.TETHER_EDGE_STATE_ROOT = tmpfs ?? tmpdir();
    const stack = new E2EStack();
    const pipeline: PipelineLatency[] = [];
    try {
      await stack.start();
      for (const run of PIPELINE) pipeline.push(await pipelineLatency(stack, run));
    } finally {
      await stack.dispose();
    }
    const wsEchoPaced = [];
    for (const gapMs of [20, 3]) wsEchoPaced.push({ gapMs, latency: await wsEcho(STAMPS - 20, gapMs) });
    const floor: RelayFloor[] = [];
    for (const gapMs of [20, 3]) floor.push(await relayFloor(PIPELINE_WAKES, gapMs));
    return { pipelineState: tmpfs ? "tmpfs" : "disk", pipeline, edgeOnly, fsyncs: fsyncs.length > 0 ? fsyncs : null, wsEcho: await wsEcho(), wsEchoPaced, floor, load: loadavg() };
  } finally {
    if (stateBefore === undefined) delete process.env.TETHER_EDGE_STATE_ROOT;
    else process.env.TETHER_EDGE_STATE_ROOT = stateBefore;
  }
}

/** The run the aims are judged on at this pace: a viewer without deflate. */
export function aimRun(r: EventLatencyResult, gapMs: number): PipelineLatency {
  const run = r.pipeline.find((p) => p.gapMs === gapMs && !p.deflate);
  if (!run) throw new Error(`no pipeline run at ${gapMs} ms`);
  return run;
}

function edgeLabel(edge: EdgeKind): string {
  return edge === "miniflare" ? "Miniflare (one workerd)" : "`wrangler dev` (proxy + workerd)";
}

export function eventLatencyMarkdown(r: EventLatencyResult): string {
  const echoAt = (gapMs: number) => r.wsEchoPaced.find((e) => e.gapMs === gapMs)?.latency.median ?? r.wsEcho.median;
  const ratio = (value: number, gapMs: number) => `${(value / echoAt(gapMs)).toFixed(0)} ×`;
  const rows = r.pipeline.map(
    (p) =>
      `| worker stdout line → viewer socket, an event every ${p.gapMs} ms, viewer ${p.deflate ? "offering permessage-deflate" : "without deflate"} | ${ms(p.latency.median)} | ${ms(p.latency.p99)} | ${ms(p.latency.max)} | ${p.latency.n} | ${ratio(p.latency.median, p.gapMs)} | ${ms(p.toRunner.median)} | ${ms(p.fromRunner.median)} |`,
  );
  const shares = r.edgeOnly.map(
    (e) => `| the edge's share: a bare protocol runner → viewer socket, an event every ${e.gapMs} ms, ${edgeLabel(e.edge)}, state on ${e.state} | ${ms(e.latency.median)} | ${ms(e.latency.p99)} | ${ms(e.latency.max)} | ${e.latency.n} | ${ratio(e.latency.median, e.gapMs)} | | |`,
  );
  const echoes = [
    `| plain \`ws\` echo round trip, loopback, back to back | ${ms(r.wsEcho.median)} | ${ms(r.wsEcho.p99)} | ${ms(r.wsEcho.max)} | ${r.wsEcho.n} | | | |`,
    ...r.wsEchoPaced.map((e) => `| plain \`ws\` echo round trip, loopback, one every ${e.gapMs} ms | ${ms(e.latency.median)} | ${ms(e.latency.p99)} | ${ms(e.latency.max)} | ${e.latency.n} | | | |`),
    ...r.floor.map(
      (f) => `| the machine's floor: a line through ${f.wakes - 1} relay processes on pipes to a reader (${f.wakes} processes woken, as in the pipeline), no other work, one every ${f.gapMs} ms | ${ms(f.latency.median)} | ${ms(f.latency.p99)} | ${ms(f.latency.max)} | ${f.latency.n} | | | |`,
    ),
  ];
  const floorAt = (gapMs: number) => r.floor.find((f) => f.gapMs === gapMs)!.latency;
  const fsyncs =
    r.fsyncs === null
      ? "strace is not installed here (or may not attach), so the fsyncs were not counted."
      : r.fsyncs.map((f) => `state on ${f.state}: ${f.perEvent.toFixed(2)} fsyncs per event, ${ms(f.meanMs)} each on average`).join("; ") + " (`strace -c -w`, wall-clock time in the call, on the edge's workerd during a separate pass of 100 events every 20 ms).";
  const at20 = aimRun(r, 20);
  const run = (deflate: boolean) => r.pipeline.find((p) => p.gapMs === 20 && p.deflate === deflate);
  const share = (edge: EdgeKind, state: "tmpfs" | "disk") => r.edgeOnly.find((e) => e.gapMs === 20 && e.edge === edge && e.state === state);
  const diff = (a: Summary | undefined, b: Summary | undefined) => (a && b ? ms(a.median - b.median) : "not measured");
  const aims = [20, 3]
    .map((gapMs) => {
      const p = aimRun(r, gapMs);
      return `an event every ${gapMs} ms: p50 ${ms(p.latency.median)} ${p.latency.median <= 2 ? "✓" : "✗"}, p99 ${ms(p.latency.p99)} ${p.latency.p99 <= 10 ? "✓" : "✗"}`;
    })
    .join("; ");
  return [
    "## Event latency",
    "",
    `A stand-in worker (built FROM the worker image) writes an \`agent.text\` event stamped with the wall clock every 20 ms (or 3 ms); the real runner (its defaults: \`batchMaxMs\` 10, frames uncompressed) journals and relays it, the edge under \`wrangler dev\` (state on ${r.pipelineState}) stores and fans it out, and a viewer socket subtracts the stamp on arrival. The viewer does not offer permessage-deflate (Node's ws inflates each frame on its thread pool, a hop a browser's socket does not take); one run has it offer it, as browsers do. The edge's share is also measured with Miniflare serving the same bundle from one workerd, without the proxy worker \`wrangler dev\` puts in front of it (on Cloudflare nothing sits between a socket and the Worker). The first 20 of ${STAMPS} events are left out (they queue behind the data socket's attach). Aim: p50 ≤ 2 ms, p99 ≤ 10 ms at both paces. Load average at the end ${r.load.map((l) => l.toFixed(1)).join(" / ")}.`,
    "",
    "The split uses the event's `ts`, which the runner sets (whole milliseconds, cut down, so about half a millisecond moves from the first part to the second) when it journals the line: worker → runner covers the container's stdout through the Docker engine's attach stream to the runner's parser and journal; runner → viewer covers the batch wait, the data socket, the TaskRoom's write and the fan-out. The ratio is to a plain `ws` echo round trip at the same pace.",
    "",
    "| path | p50 | p99 | max | samples | p50 ÷ ws echo | p50 worker → runner | p50 runner → viewer |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    ...shares,
    ...echoes,
    "",
    `Where the time goes at a human pace (p50 differences at 20 ms between rows above): \`wrangler dev\`'s proxy adds ${diff(share("wrangler dev", "tmpfs")?.latency, share("miniflare", "tmpfs")?.latency)} to the edge's share; a viewer that offers permessage-deflate adds ${diff(run(true)?.latency, run(false)?.latency)} (workerd deflates each frame, Node's ws inflates it on its thread pool). The runner's sockets do not offer it: with it, ws deflates every frame and inflates every ack on its thread pool, since workerd keeps the compression context and ws then compresses frames of any size. The edge commits each event in one SQLite transaction and the output gate holds the ack and the viewers' frames until it is durable; workerd's local SQLite fsyncs its WAL at every commit: ${fsyncs} The edge's share with its state on disk rather than tmpfs differs by ${diff(share("wrangler dev", "disk")?.latency, share("wrangler dev", "tmpfs")?.latency)}; on Cloudflare a commit is confirmed by replication, not by a local fsync. What is left is the work of each process on the way (the Docker engine's attach stream, the runner's parse, journal and send, workerd's transaction and fan-out, the viewer's parse) and each one waking from idle: a \`ws\` echo round trip within one process takes ${ms(echoAt(20))} at this pace against ${ms(r.wsEcho.median)} back to back. With the runner's defaults at 20 ms, ${ms(at20.toRunner.median)} of the p50 is worker → runner and ${ms(at20.fromRunner.median)} runner → viewer.`,
    "",
    `The floor: an event wakes ${PIPELINE_WAKES} processes in turn (containerd-shim, dockerd, the runner, \`wrangler dev\`'s proxy, workerd, the proxy again, the viewer). Waking as many processes that do nothing but pass a line on takes p50 ${ms(floorAt(20).median)} (p99 ${ms(floorAt(20).p99)}) at an event every 20 ms and ${ms(floorAt(3).median)} at 3 ms on this machine. At 20 ms that leaves ${ms(Math.max(0, 2 - floorAt(20).median))} of the 2 ms aim for the work itself: the runner's parse, journal and send, and workerd's check, transaction and fan-out.`,
    "",
    `Against the aims (runner defaults, viewer without deflate, edge state on ${r.pipelineState}): ${aims}.`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const md = eventLatencyMarkdown(await benchEventLatency());
  console.log(md);
  replaceSection("Event latency", md);
}
