/**
 * The fault figures (issue 17): each fault injected into the real stack (wrangler dev, the
 * runner process, Docker, the worker image; the stand-in model), with events lost, events
 * duplicated, tasks not finished and time to recover beside the aim, written to
 * bench/faults.md. `--quick` shortens the long faults (5 kills instead of 20, a 20 s link-cut
 * run instead of 60 s, 30 s unreachable instead of 5 min, a 2 min soak instead of 10) and
 * faults.md says which mode made it.
 *
 * Loopback only; bounded in time and count. It stops only the processes it started (by PID),
 * and removes its containers (by runner label) and its tmpfs mount even when a fault fails or
 * the run is interrupted. Needs root for the tmpfs.
 *
 *   npm run faults [-- --quick]
 */
import { writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { bundleRunner } from "../runner/build.ts";
import { burst, soak } from "./faults/load.ts";
import { fillJournalDisk, killContainer } from "./faults/host-faults.ts";
import { cutLink, edgeUnreachable, killRunner, restartEdge } from "./faults/link-faults.ts";
import { type Figure, markdownOf, type Run } from "./faults/report.ts";
import { FaultStack } from "./faults/stack.ts";

const QUICK = process.argv.includes("--quick");
const PLAN = QUICK
  ? { kills: 5, edgeRestarts: 5, cutSeconds: 20, unreachableSeconds: 30, burst: 50, soakSeconds: 120 }
  : { kills: 20, edgeRestarts: 5, cutSeconds: 60, unreachableSeconds: 300, burst: 50, soakSeconds: 600 };
/** `--only=a,b` runs only the named faults (kill, edge, cut, unreachable, docker, disk, burst, soak) and writes no faults.md. */
const ONLY = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const OUT = join(import.meta.dirname, "faults.md");

async function main(): Promise<void> {
  const started = new Date();
  const stack = new FaultStack();
  const figures: Figure[] = [];
  const errors: Run["errors"] = [];
  let disposing: Promise<void> | null = null;
  const dispose = () => (disposing ??= stack.dispose());
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.error(`${signal}: cleaning up`);
      void dispose().finally(() => process.exit(130));
    });
  }
  const attempt = async (key: string, fault: string, run: () => Promise<Figure>) => {
    if (ONLY && !ONLY.includes(key)) return;
    console.log(`fault: ${fault}`);
    const t0 = performance.now();
    try {
      const figure = await run();
      figures.push(figure);
      console.log(`  lost ${figure.lost}, duplicated ${figure.duplicated}, not finished ${figure.notFinished}, recovery ${figure.recovery} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      for (const n of figure.notes) console.log(`  ${n}`);
    } catch (err) {
      errors.push({ fault, error: String(err).split("\n")[0]!.slice(0, 300) });
      console.error(`  failed: ${String(err).slice(0, 3000)}`);
    }
  };
  try {
    await bundleRunner();
    await stack.start();
    const main = await stack.addRunner("main", 2);
    await attempt("kill", "runner kill -9", () => killRunner(stack, main, "main", PLAN.kills));
    await attempt("edge", "edge restart", () => restartEdge(stack, main, "main", PLAN.edgeRestarts));
    await attempt("cut", "link cut", () => cutLink(stack, main, "main", PLAN.cutSeconds));
    await attempt("unreachable", "edge unreachable", () => edgeUnreachable(stack, main, "main", PLAN.unreachableSeconds));
    await attempt("docker", "docker kill", () => killContainer(stack, main, "main"));
    await attempt("disk", "journal disk full", () => fillJournalDisk(stack, "disk", 24, 20));
    if (ONLY && !ONLY.some((k) => k === "burst" || k === "soak")) return;
    const load = await stack.addRunner("load", 4);
    await attempt("burst", "burst", () => burst(stack, load, "load", PLAN.burst));
    await attempt("soak", "soak", () => soak(stack, load, "load", PLAN.soakSeconds, 2));
  } finally {
    await dispose();
  }
  const run: Run = {
    mode: QUICK ? "quick" : "full",
    startedAt: started.toISOString().slice(0, 16).replace("T", " ") + " UTC",
    minutes: (Date.now() - started.getTime()) / 60_000,
    host: `${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(0)} GB`,
    figures,
    errors,
  };
  if (ONLY) return;
  writeFileSync(OUT, markdownOf(run));
  console.log(`wrote ${OUT}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
