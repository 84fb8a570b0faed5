/**
 * How fast `tether-runner --help` answers and how much memory it takes: the real bin
 * (runner/bin/tether-runner.js) with a fresh bundle (`npm run build:runner`'s code), and, for
 * comparison, the same bin on the TypeScript sources through tsx (TETHER_RUNNER_FROM_SOURCE=1).
 * Wall time from spawn to exit, and the peak resident set: `/usr/bin/time -v`'s "Maximum
 * resident set size" when the host has it, else the process's own maxRSS read at exit
 * through a preloaded exit hook. One warm-up, then 10 runs each.
 *
 *   npx tsx bench/runner-start.ts
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { bundleRunner } from "../runner/build.ts";
import { percentile } from "./stats.ts";

const RUNS = 10;
const BIN = join(import.meta.dirname, "..", "runner", "bin", "tether-runner.js");
const GNU_TIME = "/usr/bin/time";
/** Aims of issue 16: `--help` within 150 ms. */
export const HELP_AIM_MS = 150;

export interface StartFigures {
  wallMs: number;
  wallP90Ms: number;
  peakRSSMB: number;
}

export interface RunnerStartResult {
  rssFrom: string;
  bundle: StartFigures;
  sources: StartFigures;
  /** `node -e 0`: the floor under both. */
  bare: StartFigures;
}

const EXIT_HOOK = `data:text/javascript,${encodeURIComponent('process.on("exit", () => process._rawDebug("maxrss " + process.resourceUsage().maxRSS));')}`;

const HELP = [BIN, "--help"];
const BARE = ["-e", "0"];

/** One run of node with `nodeArgs`: wall milliseconds and peak RSS in MB. */
function runOnce(nodeArgs: string[], env: NodeJS.ProcessEnv): { wallMs: number; peakRSSMB: number } {
  const viaTime = existsSync(GNU_TIME);
  const [command, args] = viaTime ? [GNU_TIME, ["-v", process.execPath, ...nodeArgs]] : [process.execPath, ["--import", EXIT_HOOK, ...nodeArgs]];
  const started = process.hrtime.bigint();
  const r = spawnSync(command, args, { env, encoding: "utf8" });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`node ${nodeArgs.join(" ")} failed (${r.status}): ${r.stderr}`);
  // The bin's note means a stale bundle: the figure would not be the one asked for.
  if (nodeArgs === HELP && (!r.stdout.includes("Usage: tether-runner") || r.stderr.includes("running the TypeScript sources"))) {
    throw new Error(`tether-runner --help did not run as asked: ${r.stderr}`);
  }
  const kb = Number((viaTime ? /Maximum resident set size \(kbytes\): (\d+)/ : /^maxrss (\d+)$/m).exec(r.stderr)?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no peak RSS in: ${r.stderr}`);
  return { wallMs, peakRSSMB: kb / 1024 };
}

function measure(nodeArgs: string[], env: NodeJS.ProcessEnv): StartFigures {
  runOnce(nodeArgs, env);
  const runs = Array.from({ length: RUNS }, () => runOnce(nodeArgs, env));
  const wall = runs.map((r) => r.wallMs);
  return { wallMs: percentile(wall, 50), wallP90Ms: percentile(wall, 90), peakRSSMB: percentile(runs.map((r) => r.peakRSSMB), 50) };
}

export async function benchRunnerStart(): Promise<RunnerStartResult> {
  await bundleRunner();
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/" };
  const bundle = measure(HELP, env);
  const sources = measure(HELP, { ...env, TETHER_RUNNER_FROM_SOURCE: "1" });
  const bare = measure(BARE, env);
  return { rssFrom: existsSync(GNU_TIME) ? "`/usr/bin/time -v`" : "the process's maxRSS at exit", bundle, sources, bare };
}

export function runnerStartMarkdown(r: RunnerStartResult): string {
  const row = (what: string, f: StartFigures) => `| ${what} | ${Math.round(f.wallMs)} ms | ${Math.round(f.wallP90Ms)} ms | ${f.peakRSSMB.toFixed(0)} MB |`;
  return [
    "## Runner start",
    "",
    `\`node runner/bin/tether-runner.js --help\` from spawn to exit, median of ${RUNS} runs after one warm-up; peak RSS from ${r.rssFrom}. Aim: ≤ ${HELP_AIM_MS} ms with the bundle (\`npm run build\`).`,
    "",
    "| `tether-runner --help` | median | p90 | peak RSS |",
    "|---|---:|---:|---:|",
    row("bundle (dist/runner)", r.bundle),
    row("sources through tsx", r.sources),
    row("bare `node -e 0`, for the floor", r.bare),
    "",
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(runnerStartMarkdown(await benchRunnerStart()));
}
