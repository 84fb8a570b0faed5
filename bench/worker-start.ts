/**
 * `npm run bench:worker`: how fast a worker container answers. For each of 10 runs (after one
 * warm-up): dockerode create → attach → start → the start line → the first event on stdout
 * (the stand-in model answers at once), as the runner does it; also the same agent as a plain
 * Node process, and the image size. Writes bench/results-worker.md.
 */
import { spawn } from "node:child_process";
import { chownSync } from "node:fs";
import { mkdir, mkdtemp, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { startFakeModel } from "../test/fake-model/index.ts";
import { createFixtureRepo } from "../test/fake-model/scripts.ts";
import { buildWorkerImage, DEFAULT_WORKER_IMAGE } from "../worker-image/build.ts";
import { AGENT_BUNDLE, bundleAgent } from "../worker-image/bundle.ts";

const RUNS = 10;
const here = dirname(fileURLToPath(import.meta.url));
const docker = new Docker();
const image = process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;

const startLine = (socketPath: string) =>
  `${JSON.stringify({ type: "start", task: { taskID: "bench", prompt: "say hi", limits: {}, repo: { url: "/srv/r" } }, proxy: { socketPath, token: "t" } })}\n`;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function firstLine(stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    stream.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes("\n")) resolve();
    });
    stream.once("end", () => reject(new Error(`stream ended before the first event: ${text}`)));
  });
}

async function containerRun(base: string): Promise<{ createMs: number; firstEventMs: number }> {
  const t0 = performance.now();
  const container = await docker.createContainer({
    Image: image,
    OpenStdin: true,
    StdinOnce: false,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Labels: { "tether.bench": "worker-start" },
    HostConfig: {
      NetworkMode: "none",
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Init: true,
      Binds: [`${join(base, "workspace")}:/workspace`, `${join(base, "state")}:/state`, `${join(base, "proxy")}:/run/tether`],
    },
  });
  const createMs = performance.now() - t0;
  try {
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as NodeJS.ReadWriteStream;
    const stdout = new PassThrough();
    container.modem.demuxStream(stream, stdout, new PassThrough());
    const first = firstLine(stdout);
    await container.start();
    stream.write(startLine("/run/tether/model.sock"));
    await withTimeout(first, 30_000, "no first event from the container");
    const firstEventMs = performance.now() - t0;
    // A hijacked attach does not pass a half-close on as stdin EOF: end the worker with a cancel line.
    stream.write(`${JSON.stringify({ type: "cancel" })}\n`);
    await withTimeout(container.wait(), 20_000, "the container did not exit after cancel").catch(async (err: unknown) => {
      const logs = await container.logs({ stdout: true, stderr: true, follow: false });
      console.error(String(logs));
      throw err;
    });
    return { createMs, firstEventMs };
  } finally {
    await container.remove({ force: true });
  }
}

async function processRun(base: string): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [AGENT_BUNDLE], {
    env: { ...process.env, TETHER_WORKSPACE: join(base, "workspace"), TETHER_STATE_DIR: join(base, "state") },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const first = firstLine(child.stdout);
  child.stdin.write(startLine(join(base, "proxy", "model.sock")));
  await withTimeout(first, 30_000, "no first event from the process");
  const ms = performance.now() - t0;
  child.stdin.end();
  await new Promise((resolve) => child.once("exit", resolve));
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

async function main(): Promise<void> {
  await bundleAgent();
  const inspect = await docker.getImage(image).inspect().catch(() => null);
  const sizeBytes = inspect?.Size ?? (await buildWorkerImage({ tag: image })).sizeBytes;
  const base = await realpath(await mkdtemp(join(tmpdir(), "tether-bench-")));
  await Promise.all(["workspace", "state", "proxy"].map((d) => mkdir(join(base, d))));
  await createFixtureRepo(join(base, "workspace"));
  for (const d of ["workspace", "state"]) chownSync(join(base, d), 1000, 1000);
  const model = await startFakeModel({ script: () => ({ reply: { content: [{ type: "text", text: "hi" }] } }), listen: { socketPath: join(base, "proxy", "model.sock") } });
  try {
    await containerRun(base);
    const container: { createMs: number; firstEventMs: number }[] = [];
    for (let i = 0; i < RUNS; i++) container.push(await containerRun(base));
    await processRun(base);
    const proc: number[] = [];
    for (let i = 0; i < RUNS; i++) proc.push(await processRun(base));

    const firsts = container.map((r) => r.firstEventMs);
    const lines = [
      "# Worker start-up",
      "",
      `Measured ${new Date().toISOString()} on this machine (${(await import("node:os")).cpus().length} cores, load average ${(await import("node:os")).loadavg()[0]!.toFixed(1)} at the end, Docker engine ${(await docker.version()).Version}, Node ${process.version}) by \`npm run bench:worker\`; ${RUNS} runs after one warm-up.`,
      "",
      "| what | median | min | max |",
      "|---|---|---|---|",
      `| container: dockerode create → first event on stdout | ${fmt(median(firsts))} | ${fmt(Math.min(...firsts))} | ${fmt(Math.max(...firsts))} |`,
      `| container: \`createContainer\` alone | ${fmt(median(container.map((r) => r.createMs)))} | ${fmt(Math.min(...container.map((r) => r.createMs)))} | ${fmt(Math.max(...container.map((r) => r.createMs)))} |`,
      `| plain Node process: spawn → first event | ${fmt(median(proc))} | ${fmt(Math.min(...proc))} | ${fmt(Math.max(...proc))} |`,
      "",
      `Image \`${image}\` (${inspect?.Config?.Labels?.["org.opencontainers.image.title"] ?? "tether-worker"}): ${(sizeBytes / 1e6).toFixed(0)} MB.`,
      "",
      "The first event is the `agent.text.delta` of the stand-in model's answer, so the figure covers the container start, Node loading the 2 MB agent bundle, reading the start line, and one model round trip over the mounted unix socket. The container runs as the runner runs it: `--network none`, `CapDrop: ALL`, `no-new-privileges`, `Init: true`, three bind mounts.",
      "",
    ];
    await writeFile(join(here, "results-worker.md"), lines.join("\n"));
    console.log(lines.join("\n"));
  } finally {
    await model.close();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
