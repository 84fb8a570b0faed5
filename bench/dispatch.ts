/**
 * Dispatch: `POST /v1/tasks` → the first worker event at a phone's viewer socket, through the
 * real edge under `wrangler dev`, the real runner process (accept, clone, proxy socket, the
 * worker: a pooled one handed its task, or a container created and started for it), the worker
 * image and the stand-in model; with the pool and without, beside a raw
 * `docker run --rm --network none` of the same image until its first line of output, all in
 * one run. One warm-up, then RUNS rounds of each, one at a time.
 *
 *   npx tsx bench/dispatch.ts
 */
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import Docker from "dockerode";
import { bundleRunner } from "../runner/build.ts";
import { AGENT_EVENT_TYPES } from "../shared/events.ts";
import { E2EStack } from "../test/support/e2e-stack.ts";
import type { RunnerProcess } from "../test/support/runner-process.ts";
import { ViewerSocket } from "../test/support/viewer-socket.ts";
import { DEFAULT_WORKER_IMAGE } from "../worker-image/build.ts";
import { ms, summarize, type Summary, wallNow } from "./stats.ts";

const RUNS = 12;

/** One way of dispatching, from `POST /v1/tasks`. */
export interface DispatchPath {
  toAssigned: Summary;
  /** The runner's first event about the task (its `log` "cloning …", stamped by the runner). */
  toRunnerAccepted: Summary;
  toRunning: Summary;
  /** The worker's start as the runner logs it ("worker started", `ms`): create + start, or the pooled worker's hand-over. */
  containerStart: Summary;
  toFirstEvent: Summary;
}

export interface DispatchResult {
  /** A runner with its default pool (one worker waiting). */
  pooled: DispatchPath;
  /** The same runner settings with TETHER_POOL_SIZE=0: each task's container made for it. */
  unpooled: DispatchPath;
  rawDocker: Summary;
}

/** `docker run --rm --network none IMAGE` printing one line: spawn → that line on stdout. */
function rawDockerRun(image: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("docker", ["run", "--rm", "--network", "none", "--entrypoint", "node", image, "-e", "console.log('ready')"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let firstLine: number | undefined;
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (firstLine === undefined && out.includes("\n")) firstLine = performance.now() - t0;
    });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 && firstLine !== undefined ? resolve(firstLine) : reject(new Error(`docker run exited ${code}: ${out}`))));
  });
}

type Sample = { assigned: number; accepted: number; running: number; first: number };

async function oneDispatch(stack: E2EStack, label: string): Promise<Sample> {
  const t0 = wallNow();
  const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:quick] dispatch", labels: [label] });
  const viewer = await ViewerSocket.open(stack.edge.url, task.id, stack.token);
  try {
    const assigned = await viewer.waitForStatus("assigned", 60_000);
    const running = await viewer.waitForStatus("running", 60_000);
    const first = await viewer.waitFor("the first worker event", (e) => (AGENT_EVENT_TYPES as readonly string[]).includes(e.type), 60_000);
    const at = (seq: number) => viewer.receivedWallAt.get(seq)! - t0;
    const cloning = viewer.events.find((e) => e.type === "log" && String(e.data.message).startsWith("cloning"));
    if (!cloning) throw new Error("the runner logged no clone");
    const result = { assigned: at(assigned.seq), accepted: Date.parse(cloning.ts) - t0, running: at(running.seq), first: at(first.seq) };
    await viewer.waitForStatus("waiting", 60_000);
    await stack.phone.cancel(task.id);
    await viewer.waitForStatus("cancelled", 60_000);
    return result;
  } finally {
    await viewer.close();
  }
}

/** Waits (bounded) until the runner's containers are only its pool's waiting ones, `waiting` of them. */
async function settle(runner: RunnerProcess, waiting: number): Promise<void> {
  const docker = new Docker();
  for (let i = 0; i < 300; i++) {
    const own = await docker.listContainers({ all: true, filters: { label: [`tether.runner=${runner.runnerID}`] } });
    const idle = own.filter((c) => c.Names.some((n) => n.startsWith("/tether-slot-")) && c.State === "running");
    if (own.length === waiting && idle.length === waiting) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`runner ${runner.runnerID} did not settle to ${waiting} waiting worker(s)`);
}

function pathOf(samples: Sample[], starts: number[]): DispatchPath {
  return {
    toAssigned: summarize(samples.map((s) => s.assigned)),
    toRunnerAccepted: summarize(samples.map((s) => s.accepted)),
    toRunning: summarize(samples.map((s) => s.running)),
    containerStart: summarize(starts),
    toFirstEvent: summarize(samples.map((s) => s.first)),
  };
}

function workerStarts(runner: RunnerProcess, n: number): number[] {
  const starts = runner
    .records()
    .filter((r) => r.msg === "worker started" && typeof r.ms === "number")
    .map((r) => r.ms as number);
  if (starts.length < n) throw new Error(`the runner logged ${starts.length} worker starts, not ${n}`);
  return starts.slice(-n);
}

/**
 * Two runners on one edge, the same settings but for the pool: one with its default pool, one
 * with TETHER_POOL_SIZE=0, each reached by its own label. Rounds alternate: a pooled task, an
 * unpooled one, a raw `docker run`, so the machine's load weighs on all three alike. Before
 * each task its runner is left to settle (its last task's container gone, the pool refilled).
 */
export async function benchDispatch(): Promise<DispatchResult> {
  const image = process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;
  const stack = new E2EStack();
  try {
    // The runner as it ships: the bundle, not the sources through tsx.
    await bundleRunner();
    await stack.start();
    const pooledRunner = await stack.addRunner({ name: "dispatch-pool", capacity: 2, labels: ["pool"] });
    const unpooledRunner = await stack.addRunner({ name: "dispatch-nopool", capacity: 2, labels: ["nopool"], env: { TETHER_POOL_SIZE: "0" } });
    const pooled: Sample[] = [];
    const unpooled: Sample[] = [];
    const raw: number[] = [];
    await settle(pooledRunner, 1);
    await oneDispatch(stack, "pool");
    await oneDispatch(stack, "nopool");
    await rawDockerRun(image);
    for (let i = 0; i < RUNS; i++) {
      await settle(pooledRunner, 1);
      pooled.push(await oneDispatch(stack, "pool"));
      await settle(unpooledRunner, 0);
      unpooled.push(await oneDispatch(stack, "nopool"));
      raw.push(await rawDockerRun(image));
    }
    return {
      pooled: pathOf(pooled, workerStarts(pooledRunner, RUNS)),
      unpooled: pathOf(unpooled, workerStarts(unpooledRunner, RUNS)),
      rawDocker: summarize(raw),
    };
  } finally {
    await stack.dispose();
  }
}

/** The aim: the median first worker event, with the pool, no later than a raw `docker run`'s first line. */
export const DISPATCH_AIM_RATIO = 1.0;

export function dispatchMarkdown(r: DispatchResult): string {
  const aim = DISPATCH_AIM_RATIO * r.rawDocker.median;
  const cell = (s: Summary) => `${ms(s.median)} / ${ms(s.p90)} / ${ms(s.min)}–${ms(s.max)}`;
  const row = (what: string, pooled: Summary, unpooled: Summary) => `| ${what} | ${cell(pooled)} | ${cell(unpooled)} |`;
  const ratio = (s: Summary) => (s.median / r.rawDocker.median).toFixed(2);
  return [
    "## Dispatch",
    "",
    `\`POST /v1/tasks\` → events at a viewer socket opened right after the POST, through the real edge, runner (accept, clone of the fixture repository, model proxy socket, the worker), the worker image and the stand-in model (it answers at once). Two runners with the same settings but for the pool: one with its default pool (one worker started ahead, waiting for its \`start\` line), one with \`TETHER_POOL_SIZE=0\` (the container created and started for the task); beside them \`docker run --rm --network none\` of the same image running \`node -e "console.log('ready')"\` until that line arrives. One warm-up each, then ${r.pooled.toFirstEvent.n} rounds of a pooled task, an unpooled task and a raw run, one at a time. Aim: first worker event with the pool ≤ ${DISPATCH_AIM_RATIO.toFixed(1)} × raw docker = ${ms(aim)} (median); measured ${ms(r.pooled.toFirstEvent.median)}, ${ratio(r.pooled.toFirstEvent)} × raw docker (without the pool ${ms(r.unpooled.toFirstEvent.median)}, ${ratio(r.unpooled.toFirstEvent)} ×). With the pool, what is left is the runner's own work (the clone into the workspace and the agent's .git copy, the proxy socket, the hand-over) and one model round trip over the proxy socket.`,
    "",
    "| from `POST /v1/tasks` to (median / p90 / min–max) | with the pool | without (`TETHER_POOL_SIZE=0`) |",
    "|---|---:|---:|",
    row("`status: assigned` at the viewer", r.pooled.toAssigned, r.unpooled.toAssigned),
    row("the runner starts the clone (its `log` event's `ts`, whole ms)", r.pooled.toRunnerAccepted, r.unpooled.toRunnerAccepted),
    row("`status: running` at the viewer (the worker has its start line)", r.pooled.toRunning, r.unpooled.toRunning),
    row("… of which the worker's start (the runner's log: the hand-over, or create + start)", r.pooled.containerStart, r.unpooled.containerStart),
    row("**first worker event at the viewer**", r.pooled.toFirstEvent, r.unpooled.toFirstEvent),
    `| raw \`docker run --rm --network none\` → first line | ${cell(r.rawDocker)} | |`,
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(dispatchMarkdown(await benchDispatch()));
}
