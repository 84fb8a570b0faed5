/**
 * The phone app's first load: its JavaScript gzipped beside the 40 KB budget (issue 16), and
 * the time from opening a login link (`/#token=…`) to the visible task list in Debian's
 * Chromium made to act like a mid-range phone on a slow mobile network: CDP
 * `Network.emulateNetworkConditions` (400 ms round trip, 400 kbit/s down and up) and
 * `Emulation.setCPUThrottlingRate` 4, a 390 × 844 touch screen, a fresh browser context per
 * load (empty cache, no service worker). The edge is the real Worker under `wrangler dev`
 * with a few queued tasks; the time runs from the navigation's start (`performance.now()`'s
 * origin) to the first task title in the document, seen by a MutationObserver. The same is
 * measured for the web app as built at `BASELINE_REF` (its sources taken with `git archive`),
 * the last commit whose first load bundled zod, so the figures stand side by side.
 *
 *   npx tsx bench/phone-load.ts    prints the section and writes it into bench/results.md
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { TetherClient } from "../shared/client/index.ts";
import { WranglerEdge } from "../test/support/edge.ts";
import { launchBrowser, phoneContext } from "../test/web-browser.ts";
import { percentile } from "./stats.ts";

const ROOT = join(import.meta.dirname, "..");
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
/** The last commit whose web app loaded zod with its first screen. */
export const BASELINE_REF = "964f6c6";
/** Issue 16's budget for the first load's JavaScript, gzipped. */
export const FIRST_LOAD_BUDGET_BYTES = 40_000;
const RUNS = 7;
const TASKS = 5;
/** A mid-range phone on a slow mobile network. */
export const THROTTLE = { latencyMs: 400, downKbps: 400, upKbps: 400, cpuSlowdown: 4 };

export interface Bundle {
  /** The scripts index.html loads before the first screen: its module script and modulepreloads. */
  firstLoad: string[];
  firstLoadGzip: number;
  allScripts: number;
  allGzip: number;
}

export interface LoadFigures {
  visibleMs: number[];
  /** Script bytes as they crossed the (throttled) wire, per load. */
  scriptWireBytes: number;
  scriptRequests: number;
}

export interface PhoneLoadResult {
  measuredAt: string;
  /** The machine's load average (1 min) at the end. */
  load: number;
  current: { bundle: Bundle; load: LoadFigures };
  baseline: { bundle: Bundle; load: LoadFigures };
}

function gzipBytes(file: string): number {
  return gzipSync(readFileSync(file), { level: 9 }).length;
}

/** What index.html loads first, gzipped, and every script of the build. */
export function bundleOf(publicDir: string): Bundle {
  const html = readFileSync(join(publicDir, "index.html"), "utf8");
  const firstLoad = [...html.matchAll(/<script type="module" src="\/([^"?]+)|<link rel="modulepreload" href="\/([^"?]+)/g)].map((m) => (m[1] ?? m[2])!);
  const scripts = readdirSync(publicDir).filter((f) => f.endsWith(".js") && f !== "sw.js");
  return {
    firstLoad,
    firstLoadGzip: firstLoad.reduce((sum, f) => sum + gzipBytes(join(publicDir, f)), 0),
    allScripts: scripts.length,
    allGzip: scripts.reduce((sum, f) => sum + gzipBytes(join(publicDir, f)), 0),
  };
}

function buildCurrent(): string {
  execFileSync(TSX, [join(ROOT, "edge", "web", "build.mts")], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  return join(ROOT, "edge", "public");
}

/** Builds the web app as it was at BASELINE_REF in a temporary folder; returns its public folder. */
function buildBaseline(): { publicDir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "tether-phone-baseline-"));
  const archive = execFileSync("git", ["archive", "--format=tar", BASELINE_REF, "edge/web", "shared", "scripts", "package.json", "tsconfig.json"], { cwd: ROOT, maxBuffer: 64 * 2 ** 20 });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  execFileSync(TSX, [join(dir, "edge", "web", "build.mts")], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  return { publicDir: join(dir, "edge", "public"), dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

type Probe = { __listAt?: number; document: { querySelector(s: string): unknown }; performance: { now(): number }; MutationObserver: new (cb: () => void) => { observe(n: unknown, o: unknown): void; disconnect(): void } };

/** One cold load of the login link; the milliseconds to the first task title, and the script bytes on the wire. */
async function loadOnce(browser: Browser, url: string): Promise<{ visibleMs: number; scriptBytes: number; scripts: number }> {
  const phone = await phoneContext(browser);
  try {
    const page = await phone.newPage();
    const cdp = await phone.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: THROTTLE.latencyMs,
      downloadThroughput: (THROTTLE.downKbps * 1000) / 8,
      uploadThroughput: (THROTTLE.upKbps * 1000) / 8,
    });
    await cdp.send("Emulation.setCPUThrottlingRate", { rate: THROTTLE.cpuSlowdown });
    const scriptRequests = new Set<string>();
    let scriptBytes = 0;
    cdp.on("Network.responseReceived", (e) => {
      if (e.type === "Script") scriptRequests.add(e.requestId);
    });
    cdp.on("Network.loadingFinished", (e) => {
      if (scriptRequests.has(e.requestId)) scriptBytes += e.encodedDataLength;
    });
    await page.addInitScript(() => {
      const g = globalThis as unknown as Probe;
      const seen = new g.MutationObserver(() => {
        if (g.__listAt === undefined && g.document.querySelector(".task-title")) {
          g.__listAt = g.performance.now();
          seen.disconnect();
        }
      });
      // The document has no element yet when this runs: watch the document itself.
      seen.observe(g.document, { childList: true, subtree: true });
    });
    await page.goto(url, { waitUntil: "commit" });
    await page.waitForFunction(() => (globalThis as unknown as Probe).__listAt !== undefined, null, { timeout: 120_000 });
    const visibleMs = await page.evaluate(() => (globalThis as unknown as Probe).__listAt!);
    return { visibleMs, scriptBytes, scripts: scriptRequests.size };
  } finally {
    await phone.close();
  }
}

async function startEdge(publicDir: string): Promise<{ edge: WranglerEdge; url: string }> {
  const edge = new WranglerEdge({}, publicDir);
  await edge.start();
  const token = await edge.userToken(`phone-${process.pid}`);
  const client = new TetherClient({ baseURL: edge.url, token });
  for (let i = 1; i <= TASKS; i++) await client.createTask({ repo: { url: "https://example.com/acme/app.git" }, prompt: `Phone load task ${i}` });
  return { edge, url: `${edge.url}/#token=${encodeURIComponent(token)}` };
}

export async function benchPhoneLoad(): Promise<PhoneLoadResult> {
  const baselineBuild = buildBaseline();
  const currentDir = buildCurrent();
  const variants = [
    { name: "current" as const, bundle: bundleOf(currentDir), ...(await startEdge(currentDir)) },
    { name: "baseline" as const, bundle: bundleOf(baselineBuild.publicDir), ...(await startEdge(baselineBuild.publicDir)) },
  ];
  const browser = await launchBrowser();
  try {
    const loads = { current: [] as Awaited<ReturnType<typeof loadOnce>>[], baseline: [] as Awaited<ReturnType<typeof loadOnce>>[] };
    for (const v of variants) await loadOnce(browser, v.url);
    // Alternated, so that the machine's load falls on both alike.
    for (let i = 0; i < RUNS; i++) for (const v of variants) loads[v.name].push(await loadOnce(browser, v.url));
    const figures = (name: "current" | "baseline"): LoadFigures => ({
      visibleMs: loads[name].map((l) => l.visibleMs),
      scriptWireBytes: percentile(loads[name].map((l) => l.scriptBytes), 50),
      scriptRequests: percentile(loads[name].map((l) => l.scripts), 50),
    });
    return {
      measuredAt: new Date().toISOString(),
      load: loadavg()[0]!,
      current: { bundle: variants[0]!.bundle, load: figures("current") },
      baseline: { bundle: variants[1]!.bundle, load: figures("baseline") },
    };
  } finally {
    await browser.close();
    for (const v of variants) await v.edge.dispose();
    baselineBuild.dispose();
  }
}

const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The aims row for bench/results.md's table. */
export function phoneLoadAimRow(r: PhoneLoadResult): string {
  const ok = r.current.bundle.firstLoadGzip <= FIRST_LOAD_BUDGET_BYTES;
  return `| phone app first-load JavaScript, gzipped | ≤ ${kb(FIRST_LOAD_BUDGET_BYTES)} | ${kb(r.current.bundle.firstLoadGzip)} (was ${kb(r.baseline.bundle.firstLoadGzip)}); login link → task list on a throttled phone ${s(percentile(r.current.load.visibleMs, 50))} (was ${s(percentile(r.baseline.load.visibleMs, 50))}) ${ok ? "✓" : "✗"} |`;
}

export function phoneLoadMarkdown(r: PhoneLoadResult): string {
  const row = (what: string, v: PhoneLoadResult["current"]) =>
    `| ${what} | ${kb(v.bundle.firstLoadGzip)} (${v.bundle.firstLoad.length}) | ${kb(v.bundle.allGzip)} (${v.bundle.allScripts}) | ${kb(v.load.scriptWireBytes)} (${v.load.scriptRequests}) | ${s(percentile(v.load.visibleMs, 50))} | ${s(Math.min(...v.load.visibleMs))} – ${s(Math.max(...v.load.visibleMs))} |`;
  const ok = r.current.bundle.firstLoadGzip <= FIRST_LOAD_BUDGET_BYTES;
  return [
    "## Phone app first load",
    "",
    `The web app's first-load JavaScript (the module script and the modulepreloads of index.html) gzipped at level 9, against the budget of ${kb(FIRST_LOAD_BUDGET_BYTES)}: ${kb(r.current.bundle.firstLoadGzip)} ${ok ? "✓" : "✗"}. ` +
      `Then the time from opening a login link to the visible task list (${TASKS} queued tasks) in Debian's Chromium throttled like a mid-range phone on a slow mobile network (CDP: ${THROTTLE.latencyMs} ms round trip, ${THROTTLE.downKbps} kbit/s down and ${THROTTLE.upKbps} kbit/s up, CPU ${THROTTLE.cpuSlowdown}× slower; 390 × 844; a fresh context per load, cache off), one warm-up then ${RUNS} loads each, alternated. ` +
      `"Before" is the app as built at ${BASELINE_REF}, served by the same edge code under \`wrangler dev\`; the bytes on the wire are as \`wrangler dev\` serves them (compressed). ` +
      `Measured ${r.measuredAt.slice(0, 16)}Z, load average ${r.load.toFixed(1)} on ${cpus().length} cores at the end (other work shares the machine; the two variants alternate, so it falls on both).`,
    "",
    "| web app | first-load JS gzipped (scripts) | all JS gzipped (scripts) | script bytes on the wire per load (requests) | login link → task list, median | min – max |",
    "|---|---:|---:|---:|---:|---:|",
    row("now: light SDK, screens split", r.current),
    row(`before (${BASELINE_REF}): one bundle with zod`, r.baseline),
    "",
  ].join("\n");
}

/** Puts `section` into bench/results.md in place of its previous version (or at the end). */
function writeSection(section: string): void {
  const file = join(import.meta.dirname, "results.md");
  const text = readFileSync(file, "utf8");
  const start = text.indexOf("## Phone app first load");
  if (start < 0) {
    writeFileSync(file, `${text.trimEnd()}\n\n${section}`);
    return;
  }
  const next = text.indexOf("\n## ", start + 1);
  writeFileSync(file, `${text.slice(0, start)}${section}${next < 0 ? "" : text.slice(next + 1)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const section = phoneLoadMarkdown(await benchPhoneLoad());
  console.log(section);
  writeSection(section);
}
