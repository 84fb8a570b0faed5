/**
 * `npm start` as a user runs it, in a copy of this tree (its .dev.vars, .tether and
 * .wrangler are the copy's own): it writes the secret, brings the edge up, registers and
 * starts a runner (the process sandbox, so no image is needed), prints the login link, and
 * stops every process it started on SIGTERM, whether npm or the start script itself gets it.
 * A second start reuses the secret and the registered runner.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
/** Tries with another port when the one picked is taken. */
const PORT_ATTEMPTS = 5;

interface Started {
  npm: ChildProcess;
  port: number;
  out: () => string;
  login: string;
}

/** A copy of the tree as git sees it (tracked and untracked, not ignored), sharing node_modules. */
function copyTree(): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "tether-npm-start-")));
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const file of files) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    try {
      copyFileSync(join(ROOT, file), join(dir, file));
    } catch (err) {
      // A file git lists but the tree no longer has (deleted, not yet staged).
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/** The processes whose working directory is in `dir`: everything `npm start` started there. */
function processesIn(dir: string): { pid: number; argv: string[] }[] {
  const found: { pid: number; argv: string[] }[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd !== dir && !cwd.startsWith(`${dir}/`)) continue;
      found.push({ pid: Number(name), argv: readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").filter(Boolean) });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `npm start` in `dir` on `preferred` or a random port that is free, up to its login link. */
async function npmStart(dir: string, preferred?: number): Promise<Started> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TETHER_|npm_|ANTHROPIC_)/i.test(k)));
  for (let attempt = 1; ; attempt++) {
    const port = attempt === 1 && preferred ? preferred : 20_000 + Math.floor(Math.random() * 40_000);
    const npm = spawn("npm", ["start"], {
      cwd: dir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...env, TETHER_PORT: String(port), TETHER_SANDBOX: "process", WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
    });
    let out = "";
    npm.stdout?.on("data", (c: Buffer) => (out += c.toString()));
    npm.stderr?.on("data", (c: Buffer) => (out += c.toString()));
    await until(`the login link (output: ${out})`, () => /login link: \S+/.test(out) || npm.exitCode !== null, 180_000);
    const login = /login link: (\S+)/.exec(out)?.[1];
    if (login) return { npm, port, out: () => out, login };
    const edgeLog = readFileSync(join(dir, ".tether", "edge.log"), "utf8");
    if (attempt >= PORT_ATTEMPTS || !/address already in use/i.test(edgeLog)) throw new Error(`npm start ended with ${npm.exitCode}:\n${out}\n${edgeLog.slice(-2000)}`);
  }
}

async function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once("exit", r));
}

/** Every process `npm start` left in `dir` is gone, and its edge no longer answers. */
async function expectAllStopped(dir: string, started: Started): Promise<void> {
  await exitOf(started.npm);
  await until(`no process left in ${dir}`, () => processesIn(dir).length === 0, 30_000);
  expect(processesIn(dir)).toEqual([]);
  await expect(fetch(`http://127.0.0.1:${started.port}/healthz`)).rejects.toThrow();
}

async function runnersOf(started: Started): Promise<{ name: string; online: boolean }[]> {
  const token = new URL(started.login).hash.replace(/^#token=/, "");
  const res = await fetch(`http://127.0.0.1:${started.port}/v1/runners`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { runners: { name: string; online: boolean }[] }).runners;
}

describe("npm start", () => {
  const dirs: string[] = [];

  afterAll(() => {
    // Whatever a failed test left running in its copy.
    for (const dir of dirs) {
      for (const { pid } of processesIn(dir)) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("writes the secret, brings the edge up, registers and starts a runner, prints the login link; SIGTERM to npm stops everything", async () => {
    const dir = copyTree();
    dirs.push(dir);
    const started = await npmStart(dir);
    expect(started.out()).toContain("tether: wrote .dev.vars with a fresh AUTH_SECRET");
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toMatch(/^AUTH_SECRET=[A-Za-z0-9_-]{43}$/m);
    expect(statSync(join(dir, ".dev.vars")).mode & 0o777).toBe(0o600);
    expect(started.login).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${started.port}/#token=[\\w-]+\\.[\\w-]+\\.[\\w-]+$`));
    expect((await fetch(`http://127.0.0.1:${started.port}/healthz`)).status).toBe(200);
    expect(started.out()).toContain("tether: registered a local runner (.tether/runner)");
    expect(started.out()).toMatch(/runner: {5}runner "local" online \(process sandbox, capacity \d+\)/);
    expect(await runnersOf(started)).toEqual([expect.objectContaining({ name: "local", online: true })]);
    // The edge (wrangler, workerd) and the runner run from the copy.
    const argv = processesIn(dir).map((p) => p.argv.join(" "));
    expect(argv.some((a) => a.includes("workerd serve"))).toBe(true);
    expect(argv.some((a) => a.includes("tether-runner.js start"))).toBe(true);

    // npm ends on SIGTERM without passing it on; the start script sees its parent go.
    process.kill(started.npm.pid!, "SIGTERM");
    await expectAllStopped(dir, started);
  }, 300_000);

  it("SIGTERM to the start script stops everything; a second start keeps the secret and the runner", async () => {
    const dir = copyTree();
    dirs.push(dir);
    const first = await npmStart(dir);
    const secret = readFileSync(join(dir, ".dev.vars"), "utf8");
    const script = processesIn(dir).find((p) => p.argv[0]?.endsWith("node") && p.argv.includes("scripts/start.ts"));
    expect(script, processesIn(dir).map((p) => p.argv.join(" ")).join("\n")).toBeDefined();
    process.kill(script!.pid, "SIGTERM");
    await expectAllStopped(dir, first);

    const second = await npmStart(dir, first.port);
    expect(second.out()).not.toContain("wrote .dev.vars");
    expect(second.out()).not.toContain("registered a local runner");
    expect(readFileSync(join(dir, ".dev.vars"), "utf8")).toBe(secret);
    expect(await runnersOf(second)).toEqual([expect.objectContaining({ name: "local", online: true })]);
    process.kill(second.npm.pid!, "SIGTERM");
    await expectAllStopped(dir, second);
  }, 400_000);
});
