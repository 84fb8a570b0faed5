/**
 * `npm run bench`: every benchmark in one go, side by side, on the real parts — dispatch,
 * event latency, catch-up, the edge bill of a task (10 minutes), runner start and memory, the
 * phone app's first load (this folder), then `npm run bench:edge` and `npm run bench:worker`
 * — and bench/results.md with the machine described.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { AIM_MS as CATCH_UP_AIM_MS, benchCatchUp, catchUpMarkdown } from "./catch-up.ts";
import { benchDispatch, DISPATCH_AIM_RATIO, dispatchMarkdown } from "./dispatch.ts";
import { AIM_USD as BILL_AIM_USD, benchEdgeBill, edgeBillMarkdown } from "./edge-bill.ts";
import { aimRun, benchEventLatency, eventLatencyMarkdown } from "./event-latency.ts";
import { benchPhoneLoad, phoneLoadAimRow, phoneLoadMarkdown } from "./phone-load.ts";
import { BUSY_AIM_MB, benchRunnerRSS, IDLE_AIM_MB, runnerRSSMarkdown } from "./runner-rss.ts";
import { benchRunnerStart, HELP_AIM_MS, runnerStartMarkdown } from "./runner-start.ts";

const HERE = import.meta.dirname;
const ROOT = join(HERE, "..");

function sh(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (err) {
    return `unknown (${(err as Error).message.split("\n", 1)[0]})`;
  }
}

function machine(): string {
  return [
    "| | |",
    "|---|---|",
    `| CPU | ${sh("nproc", [])} × ${cpus()[0]?.model ?? "unknown"} |`,
    `| memory | ${(totalmem() / 2 ** 30).toFixed(1)} GiB |`,
    `| kernel | ${sh("uname", ["-sr"])} |`,
    `| Docker | engine ${sh("docker", ["version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"])}, ${sh("docker", ["info", "--format", "cgroup v{{.CgroupVersion}}, {{.LoggingDriver}} logs"])} |`,
    `| Node | ${process.version} |`,
    `| edge | \`wrangler dev\` (workerd, local SQLite); Miniflare (workerd alone) for event latency |`,
  ].join("\n");
}

/** Runs another helper's benchmark script; its results file goes into ours. */
function runScript(script: string, resultsFile: string): string {
  const started = Date.now();
  const r = spawnSync("npm", ["run", "--silent", script], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"], timeout: 15 * 60_000 });
  if (r.status !== 0) return `\`npm run ${script}\` failed (exit ${r.status ?? r.signal}); see its output.\n`;
  const text = readFileSync(join(HERE, resultsFile), "utf8");
  // Their headings move one level down under ours.
  return `${text.replace(/^# /m, "## ")}\n_(\`npm run ${script}\`, ${Math.round((Date.now() - started) / 1000)} s, also in bench/${resultsFile})_\n`;
}

const started = new Date();
console.log("bench: dispatch");
const dispatch = await benchDispatch();
console.log(dispatchMarkdown(dispatch));
console.log("bench: event latency");
const latency = await benchEventLatency();
console.log(eventLatencyMarkdown(latency));
console.log("bench: catch-up");
const catchUp = await benchCatchUp();
console.log(catchUpMarkdown(catchUp));
console.log("bench: edge bill of a task (10 minutes)");
const bill = await benchEdgeBill(10);
console.log(edgeBillMarkdown(bill));
console.log("bench: runner start");
const start = await benchRunnerStart();
console.log(runnerStartMarkdown(start));
console.log("bench: runner memory");
const rss = await benchRunnerRSS();
console.log(runnerRSSMarkdown(rss));
console.log("bench: phone app first load");
const phone = await benchPhoneLoad();
console.log(phoneLoadMarkdown(phone));
console.log("bench: edge throughput (npm run bench:edge)");
const edge = runScript("bench:edge", "results-edge.md");
console.log("bench: worker start (npm run bench:worker)");
const worker = runScript("bench:worker", "results-worker.md");

const aimDispatch = DISPATCH_AIM_RATIO * dispatch.rawDocker.median;
const batched = aimRun(latency, 20);
const quick = aimRun(latency, 3);
const echo20 = latency.wsEchoPaced.find((e) => e.gapMs === 20)?.latency.median ?? latency.wsEcho.median;
const floor20 = latency.floor.find((f) => f.gapMs === 20)!;
const results = [
  "# Benchmarks",
  "",
  `\`npm run bench\`, run ${started.toISOString()} – ${new Date().toISOString()} (load average at the end ${loadavg().map((l) => l.toFixed(1)).join(" / ")}). Every figure comes from the real parts on this machine: the edge under \`wrangler dev\` (event latency: also served by Miniflare, one workerd), the \`tether-runner\` process, the Docker engine, the worker image, the stand-in model on loopback.`,
  "",
  machine(),
  "",
  "## Against the aims",
  "",
  "| what | aim | measured |",
  "|---|---|---|",
  `| dispatch with the pool: \`POST /v1/tasks\` → first worker event (median) | ≤ ${DISPATCH_AIM_RATIO.toFixed(1)} × raw docker = ${Math.round(aimDispatch)} ms | ${Math.round(dispatch.pooled.toFirstEvent.median)} ms, ${(dispatch.pooled.toFirstEvent.median / dispatch.rawDocker.median).toFixed(2)} × (p90 ${Math.round(dispatch.pooled.toFirstEvent.p90)} ms; raw docker ${Math.round(dispatch.rawDocker.median)} ms; without the pool ${Math.round(dispatch.unpooled.toFirstEvent.median)} ms) ${dispatch.pooled.toFirstEvent.median <= aimDispatch ? "✓" : "✗"} |`,
  `| event latency p50, runner defaults, an event every 20 ms (edge state on ${latency.pipelineState}, viewer without deflate) | ≤ 2 ms | ${batched.latency.median.toFixed(2)} ms (${(batched.latency.median / echo20).toFixed(0)} × a ws echo at that pace; waking the pipeline's ${floor20.wakes} processes with no work: ${floor20.latency.median.toFixed(2)} ms) ${batched.latency.median <= 2 ? "✓" : "✗"} |`,
  `| event latency p99, runner defaults, an event every 20 ms | ≤ 10 ms | ${batched.latency.p99.toFixed(2)} ms (with no work: ${floor20.latency.p99.toFixed(2)} ms) ${batched.latency.p99 <= 10 ? "✓" : "✗"} |`,
  `| event latency p50 / p99, runner defaults, an event every 3 ms | ≤ 2 ms / ≤ 10 ms | ${quick.latency.median.toFixed(2)} ms ${quick.latency.median <= 2 ? "✓" : "✗"} / ${quick.latency.p99.toFixed(2)} ms ${quick.latency.p99 <= 10 ? "✓" : "✗"} |`,
  `| catch-up: 10,000 missed events at a new viewer socket (median, max) | ≤ ${CATCH_UP_AIM_MS} ms | ${Math.round(catchUp.toLast.median)} ms, ${Math.round(catchUp.toLast.max)} ms ${catchUp.toLast.max <= CATCH_UP_AIM_MS ? "✓" : "✗"} |`,
  `| edge bill of a typical task, beyond included usage | ≤ $${BILL_AIM_USD} | $${bill.cost.total.toFixed(7)} ${bill.cost.total <= BILL_AIM_USD ? "✓" : "✗"} |`,
  `| \`tether-runner --help\` (bundle, median) | ≤ ${HELP_AIM_MS} ms | ${Math.round(start.bundle.wallMs)} ms (peak RSS ${start.bundle.peakRSSMB.toFixed(0)} MB; bare \`node -e 0\` ${Math.round(start.bare.wallMs)} ms) ${start.bundle.wallMs <= HELP_AIM_MS ? "✓" : "✗"} |`,
  `| runner RSS idle (30 s after it came online) | ≤ ${IDLE_AIM_MB} MB | ${rss.idleMB.toFixed(1)} MB (5 s after: ${rss.startMB.toFixed(1)} MB) ${rss.idleMB <= IDLE_AIM_MB ? "✓" : "✗"} |`,
  `| runner RSS, 5 running tasks | ≤ ${BUSY_AIM_MB} MB | ${rss.busyMB.toFixed(1)} MB ${rss.busyMB <= BUSY_AIM_MB ? "✓" : "✗"} |`,
  phoneLoadAimRow(phone),
  "",
  dispatchMarkdown(dispatch),
  eventLatencyMarkdown(latency),
  catchUpMarkdown(catchUp),
  edgeBillMarkdown(bill),
  runnerStartMarkdown(start),
  runnerRSSMarkdown(rss),
  phoneLoadMarkdown(phone),
  edge,
  worker,
].join("\n");
writeFileSync(join(HERE, "results.md"), results);
console.log(`bench: wrote bench/results.md`);
