import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleRunner, type RunnerBundle } from "../build.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const run = promisify(execFile);

/**
 * A copy of the project's layout in a temporary folder: the bin, a fresh bundle in
 * dist/runner and package.json; the sources and node_modules are links to this checkout's.
 * The bundle's inputs.json names files of this checkout, which the copy lacks (as an
 * installation without sources does), except package.json.
 */
let root: string;
let bin: string;
let built: RunnerBundle;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "tether-bin-"));
  mkdirSync(join(root, "runner", "bin"), { recursive: true });
  bin = join(root, "runner", "bin", "tether-runner.js");
  copyFileSync(join(ROOT, "runner", "bin", "tether-runner.js"), bin);
  symlinkSync(join(ROOT, "runner", "cli"), join(root, "runner", "cli"));
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  built = await bundleRunner(join(root, "dist", "runner"));
  copyFileSync(join(ROOT, "package.json"), join(root, "package.json"));
  const past = new Date(Date.now() - 60_000);
  utimesSync(join(root, "package.json"), past, past);
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the bin with a resolve hook that prints every module it loads to stderr as `loaded URL`. */
async function runTraced(args: string[], env: Record<string, string> = {}) {
  const hooks = `export async function resolve(s, c, next) { const r = await next(s, c); process._rawDebug("loaded " + r.url); return r; }`;
  const register = `import { register } from "node:module"; register("data:text/javascript,${encodeURIComponent(hooks)}");`;
  const r = await run(process.execPath, ["--import", `data:text/javascript,${encodeURIComponent(register)}`, bin, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: root, ...env },
  });
  const loaded = r.stderr
    .split("\n")
    .filter((l) => l.startsWith("loaded "))
    .map((l) => l.slice("loaded ".length));
  const notes = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("loaded "));
  return { stdout: r.stdout, loaded, notes };
}

describe("tether-runner bin", () => {
  it("runs a current bundle, and --help loads neither dockerode, SQLite, ws, zod, the config schema nor the daemon", async () => {
    const r = await runTraced(["--help"]);
    expect(r.notes).toEqual([]);
    expect(r.stdout).toContain("Usage: tether-runner");
    for (const command of ["register", "start", "status", "doctor"]) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, "m"));
    expect(r.loaded).toContain(`file://${root}/dist/runner/tether-runner.mjs`);
    expect(r.loaded.filter((u) => u.endsWith(".ts"))).toEqual([]);
    const bundled = r.loaded.filter((u) => u.startsWith(`file://${root}/dist/runner/`));
    // The modules the loaded chunks hold: the config keys' flags and help, not the schema, the daemon, dockerode, ws or zod.
    const modules = bundled.flatMap((u) => built.chunks[fileURLToPath(u)] ?? [`no such chunk: ${u}`]);
    expect(modules).toContain("runner/config-keys.ts");
    expect(modules.filter((m) => /^(runner\/config\.ts|runner\/daemon\.ts|runner\/cli\/start\.ts|node_modules\/(ws|dockerode|docker-modem|zod)\/)/.test(m))).toEqual([]);
    expect(r.loaded.filter((u) => /node_modules\/(dockerode|better-sqlite3|ws)\//.test(u))).toEqual([]);
  });

  it("prints package.json's version from the bundle", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const r = await runTraced(["--version"]);
    expect(r.stdout.trim()).toBe(version);
    expect(r.notes).toEqual([]);
  });

  it("loads dockerode's ssh transport from node_modules when DOCKER_HOST is ssh://", async () => {
    const home = mkdtempSync(join(root, "home-"));
    // Port 1 refuses: ssh2 has to load and dial for this error to appear.
    const r = await run(process.execPath, [bin, "doctor"], {
      env: { PATH: process.env.PATH ?? "", HOME: home, TETHER_RUNNER_HOME: home, DOCKER_HOST: "ssh://nobody@127.0.0.1:1" },
    }).catch((err: { stdout: string; code: number }) => err);
    expect(r.stdout).toContain("✗ docker engine: no Docker engine answers on ssh://nobody@127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1");
  });

  it("runs the sources through tsx, saying why in one line, when an input is newer than the bundle", async () => {
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(root, "package.json"), future, future);
    try {
      const r = await runTraced(["--help"]);
      expect(r.notes).toEqual(["tether-runner: package.json is newer than the bundle; running the TypeScript sources through tsx (slower start; `npm run build` makes the bundle)"]);
      expect(r.stdout).toContain("Usage: tether-runner");
      expect(r.loaded.some((u) => u.endsWith("/runner/cli/main.ts"))).toBe(true);
      expect(r.loaded.some((u) => u.includes("/dist/runner/"))).toBe(false);
    } finally {
      const past = new Date(Date.now() - 60_000);
      utimesSync(join(root, "package.json"), past, past);
    }
  });

  it("runs the sources with no note when TETHER_RUNNER_FROM_SOURCE=1", async () => {
    const r = await runTraced(["--help"], { TETHER_RUNNER_FROM_SOURCE: "1" });
    expect(r.notes).toEqual([]);
    expect(r.stdout).toContain("Usage: tether-runner");
    expect(r.loaded.some((u) => u.includes("/dist/runner/"))).toBe(false);
  });
});
