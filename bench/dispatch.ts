/**
 * Dispatch: `POST /v1/tasks` → the first worker event at a phone's viewer socket, through the
 * real edge under `wrangler dev`, the real runner process (accept, clone, proxy socket,
 * container create and start), the worker image and the stand-in model; beside a raw
 * `docker run --rm --network none` of the same image until its first line of output. One
 * warm-up, then RUNS samples of each, one at a time.
 *
 *   npx tsx bench/dispatch.ts
 */
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import { AGENT_EVENT_TYPES } from "../shared/events.ts";
import { E2EStack } from "../test/support/e2e-stack.ts";
import { ViewerSocket } from "../test/support/viewer-socket.ts";
import { DEFAULT_WORKER_IMAGE } from "../worker-image/build.ts";
import { ms, summarize, type Summary, wallNow } from "./stats.ts";

const RUNS = 12;

export interface DispatchResult {
  toAssigned: Summary;
  /** The runner's first event about the task (its `log` "cloning …", stamped by the runner). */
  toRunnerAccepted: Summary;
  toRunning: Summary;
  /** dockerode create + start as the runner logs it ("worker started", `ms`). */
  containerStart: Summary;
  toFirstEvent: Summary;
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

async function oneDispatch(stack: E2EStack): Promise<Sample> {
  const t0 = wallNow();
  const task = await stack.phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:quick] dispatch" });
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

export async function benchDispatch(): Promise<DispatchResult> {
  const image = process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;
  const stack = new E2EStack();
  try {
    await stack.start();
    const runner = await stack.addRunner({ name: "dispatch", capacity: 2 });
    const samples: Sample[] = [];
    await oneDispatch(stack);
    for (let i = 0; i < RUNS; i++) {
      samples.push(await oneDispatch(stack));
      // Let the previous container's removal finish, so runs do not overlap.
      await new Promise((r) => setTimeout(r, 1000));
    }
    const starts = runner
      .records()
      .filter((r) => r.msg === "worker started" && typeof r.ms === "number")
      .map((r) => r.ms as number);
    if (starts.length < RUNS) throw new Error(`the runner logged ${starts.length} worker starts, not ${RUNS}`);
    const raw: number[] = [];
    await rawDockerRun(image);
    for (let i = 0; i < RUNS; i++) raw.push(await rawDockerRun(image));
    return {
      toAssigned: summarize(samples.map((s) => s.assigned)),
      toRunnerAccepted: summarize(samples.map((s) => s.accepted)),
      toRunning: summarize(samples.map((s) => s.running)),
      containerStart: summarize(starts.slice(-RUNS)),
      toFirstEvent: summarize(samples.map((s) => s.first)),
      rawDocker: summarize(raw),
    };
  } finally {
    await stack.dispose();
  }
}

export function dispatchMarkdown(r: DispatchResult): string {
  const aim = 1.15 * r.rawDocker.median + 50;
  const row = (what: string, s: Summary) => `| ${what} | ${ms(s.median)} | ${ms(s.p90)} | ${ms(s.min)} | ${ms(s.max)} | ${s.n} |`;
  return [
    "## Dispatch",
    "",
    `\`POST /v1/tasks\` → events at a viewer socket opened right after the POST, through the real edge, runner (accept, clone of the fixture repository, model proxy socket, container create and start), the worker image and the stand-in model (it answers at once); one warm-up, then ${r.toFirstEvent.n} tasks one after another. Beside it, \`docker run --rm --network none\` of the same image running \`node -e "console.log('ready')"\` until that line arrives. Aim: first worker event ≤ 1.15 × raw docker + 50 ms = ${ms(aim)} (median); measured ${ms(r.toFirstEvent.median)}, ${(r.toFirstEvent.median / r.rawDocker.median).toFixed(2)} × raw docker. The raw run prints at once; the worker's own path to its first event (container start, Node loading the 2 MB agent bundle, one model round trip over the proxy socket) is \`npm run bench:worker\`'s "dockerode create → first event" below, and the runner's part before the container (clone into the workspace and the agent's own .git copy, the proxy socket) lies between the clone's start and \`running\`.`,
    "",
    "| from `POST /v1/tasks` to | median | p90 | min | max | runs |",
    "|---|---:|---:|---:|---:|---:|",
    row("`status: assigned` at the viewer", r.toAssigned),
    row("the runner starts the clone (its `log` event's `ts`, whole ms)", r.toRunnerAccepted),
    row("`status: running` at the viewer (container started)", r.toRunning),
    row("… of which the container's create + start (the runner's log)", r.containerStart),
    row("**first worker event at the viewer**", r.toFirstEvent),
    row("raw `docker run --rm --network none` → first line", r.rawDocker),
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(dispatchMarkdown(await benchDispatch()));
}
