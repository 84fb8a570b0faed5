/**
 * `npm start`: Tether on this machine in one terminal.
 *
 * 1. `.dev.vars` with a fresh AUTH_SECRET on the first run, and a VAPID key pair for Web Push
 *    when it has none;
 * 2. the phone web app built into edge/public;
 * 3. the edge under `wrangler dev` on 127.0.0.1:8787 (TETHER_PORT), state in .wrangler/state;
 * 4. a dev user token and its login link;
 * 5. a runner registered to that user (home .tether/runner) and started: the Docker sandbox
 *    when an engine answers (the worker image is built first if missing), the `process`
 *    sandbox only when asked for with TETHER_SANDBOX=process;
 * 6. a summary: the web app URL, the login link, the runner's state, what is missing.
 *
 * Ctrl-C, SIGTERM or SIGHUP stops everything it started, and so does the end of the process
 * that started it (npm, which on SIGTERM ends without passing the signal on): `npm start` runs
 * this file as `node --import tsx`, with no wrapper process between, so that parent is watched.
 * Logs of the edge and the runner go to .tether/*.log.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Docker from "dockerode";
import { readConfigFile } from "../runner/config.ts";
import { mintUserToken, parseDevVars } from "./token.ts";
import { vapidDevVars } from "./vapid-keys.ts";

const ROOT = resolve(import.meta.dirname, "..");
const STATE = join(ROOT, ".tether");
const RUNNER_HOME = join(STATE, "runner");
const PORT = Number(process.env.TETHER_PORT ?? 8787);
const EDGE = `http://127.0.0.1:${PORT}`;
const IMAGE = process.env.TETHER_WORKER_IMAGE ?? "tether-worker:latest";
const SANDBOX = process.env.TETHER_SANDBOX ?? "docker";
const DEV_USER = process.env.TETHER_DEV_USER ?? "dev";

const children: ChildProcess[] = [];

function say(line: string): void {
  process.stdout.write(`tether: ${line}\n`);
}

function ensureDevVars(): Record<string, string> {
  const path = join(ROOT, ".dev.vars");
  if (!existsSync(path)) {
    writeFileSync(path, `# Written by npm start on its first run.\nAUTH_SECRET=${randomBytes(32).toString("base64url")}\n`, { mode: 0o600 });
    say("wrote .dev.vars with a fresh AUTH_SECRET");
  }
  const written = readFileSync(path, "utf8");
  if (!parseDevVars(written).VAPID_PRIVATE_KEY) {
    appendFileSync(path, `${written.endsWith("\n") || written === "" ? "" : "\n"}${vapidDevVars()}`);
    say("added a fresh VAPID key pair (push notifications) to .dev.vars");
  }
  const vars = parseDevVars(readFileSync(path, "utf8"));
  if (!vars.AUTH_SECRET) throw new Error(".dev.vars has no AUTH_SECRET: add one or delete the file to have a fresh one written");
  return vars;
}

/** Runs an npm script in the foreground, its output shown; throws when it fails. */
function npmRun(script: string): void {
  const r = spawnSync("npm", ["run", "--silent", script], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`npm run ${script} failed`);
}

function startChild(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  mkdirSync(STATE, { recursive: true });
  const log = createWriteStream(join(STATE, `${name}.log`), { flags: "a" });
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  child.once("exit", (code, signal) => {
    if (!stopping) {
      say(`${name} exited (${signal ?? `code ${code}`}); its log is .tether/${name}.log`);
      void stopAll(1);
    }
  });
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not happen within ${Math.round(timeoutMs / 1000)} s`);
}

async function api<T>(token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${EDGE}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function dockerEngine(): Promise<Docker | undefined> {
  const docker = new Docker();
  try {
    await docker.ping();
    return docker;
  } catch {
    return undefined;
  }
}

type RunnerPlan = { sandbox: "docker" | "process" } | { sandbox: null; why: string };

async function planRunner(): Promise<RunnerPlan> {
  if (SANDBOX === "process") {
    say("TETHER_SANDBOX=process: the runner runs the agent as a plain child process, which ISOLATES NOTHING");
    npmRun("build:worker");
    return { sandbox: "process" };
  }
  const docker = await dockerEngine();
  if (!docker) {
    return {
      sandbox: null,
      why:
        "no Docker engine answers, so no runner was started. Get one (Debian: `apt-get install -y docker.io && dockerd &`)" +
        " and run npm start again, or run the agent unisolated with TETHER_SANDBOX=process npm start",
    };
  }
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    say(`the worker image ${IMAGE} is missing: building it (once)`);
    npmRun("image");
  }
  return { sandbox: "docker" };
}

/** Registers the local runner unless the edge already knows the one stored in .tether/runner. */
async function ensureRunnerRegistered(token: string): Promise<void> {
  const stored = readConfigFile(RUNNER_HOME);
  const runnerID = stored.ok ? stored.value.runnerID : undefined;
  if (runnerID) {
    const { runners } = await api<{ runners: { id: string }[] }>(token, "GET", "/v1/runners");
    if (runners.some((r) => r.id === runnerID)) return;
  }
  const { token: registration } = await api<{ token: string }>(token, "POST", "/v1/runners/registration-tokens");
  const r = spawnSync(
    process.execPath,
    ["runner/bin/tether-runner.js", "register", "--home", RUNNER_HOME, "--edge", EDGE, "--token", registration, "--name", "local"],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`runner registration failed: ${r.stderr || r.stdout}`);
  say("registered a local runner (.tether/runner)");
}

let stopping = false;
async function stopAll(code: number): Promise<never> {
  stopping = true;
  for (const child of children) {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
  }
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)));
  process.exit(code);
}

/** Stops everything once the process that started this one is gone (this one is then re-parented). */
function watchParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent && !stopping) {
      say("the process that started npm start is gone: stopping");
      void stopAll(0);
    }
  }, 500).unref();
}

async function main(): Promise<void> {
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stopAll(0));
  watchParent();
  const vars = ensureDevVars();
  npmRun("build:web");

  say(`starting the edge (wrangler dev) on ${EDGE}`);
  const quiet = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" };
  startChild("edge", join(ROOT, "node_modules/.bin/wrangler"), ["dev", "--ip", "127.0.0.1", "--port", String(PORT), "--persist-to", ".wrangler/state", "--show-interactive-dev-session=false"], quiet);
  await waitFor("the edge answering /healthz", async () => ((await fetch(`${EDGE}/healthz`)).ok ? true : undefined), 60_000);

  const token = await mintUserToken({ user: DEV_USER, days: 30, secret: vars.AUTH_SECRET!, issuer: vars.AUTH_ISSUER || undefined, audience: vars.AUTH_AUDIENCE || undefined });
  const login = `${EDGE}/#token=${token}`;

  const plan = await planRunner();
  let runnerState = plan.sandbox === null ? plan.why : "";
  if (plan.sandbox !== null) {
    await ensureRunnerRegistered(token);
    startChild("runner", process.execPath, ["runner/bin/tether-runner.js", "start"], {
      ...process.env,
      TETHER_RUNNER_HOME: RUNNER_HOME,
      // This start's edge, also when TETHER_PORT differs from the one the runner registered on.
      TETHER_EDGE_URL: EDGE,
      TETHER_SANDBOX: plan.sandbox,
      TETHER_WORKER_IMAGE: IMAGE,
      // Local use: tasks may name repositories on this machine's disk.
      TETHER_ALLOW_LOCAL_REPOS: process.env.TETHER_ALLOW_LOCAL_REPOS ?? "true",
    });
    const runner = await waitFor(
      "the runner connecting to the edge",
      async () => (await api<{ runners: { name: string; online: boolean; capacity: number }[] }>(token, "GET", "/v1/runners")).runners.find((r) => r.online),
      60_000,
    );
    runnerState = `runner "${runner.name}" online (${plan.sandbox} sandbox, capacity ${runner.capacity})`;
  }

  const missing: string[] = [];
  if (!process.env.ANTHROPIC_API_KEY) missing.push("ANTHROPIC_API_KEY is not set: tasks will fail at once until you start with it set");
  if (plan.sandbox === null) missing.push("a runner (see above)");
  process.stdout.write(
    [
      "",
      `  Tether is running.`,
      `  web app:    ${EDGE}/`,
      `  login link: ${login}`,
      `  runner:     ${runnerState}`,
      ...missing.map((m) => `  missing:    ${m}`),
      `  logs:       .tether/edge.log, .tether/runner.log`,
      `  Ctrl-C stops everything.`,
      "",
    ].join("\n"),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`tether: ${(err as Error).message}\n`);
  void stopAll(1);
});
