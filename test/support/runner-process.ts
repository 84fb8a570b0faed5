/**
 * The real `tether-runner` as a child process for end-to-end tests and benchmarks: a
 * temporary TETHER_RUNNER_HOME, `register` through the real API with a registration token a
 * user made, `start` with an obviously fake model key and the stand-in model's URL, and
 * `kill -9` then `start` again on the same home. `dispose()` also removes the runner's
 * containers (found by their `tether.runner` label) and its home.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";
import { unmountUnder } from "./mounts.ts";

const BIN = join(import.meta.dirname, "..", "..", "runner", "bin", "tether-runner.js");
const run = promisify(execFile);

/** A key the stand-in model accepts and no real API ever would. */
export const FAKE_MODEL_KEY = "sk-ant-e2e-test-only-not-a-real-key";

export interface RunnerProcessOptions {
  edgeURL: string;
  /** The stand-in model's `http://127.0.0.1:PORT`; absent means no ANTHROPIC_BASE_URL. */
  modelURL?: string;
  /** false starts the runner with no ANTHROPIC_API_KEY at all. */
  modelKey?: boolean;
  name?: string;
  labels?: string[];
  capacity?: number;
  push?: boolean;
  /** More environment for `start` (TETHER_* settings). */
  env?: Record<string, string>;
}

export class RunnerProcess {
  readonly home = mkdtempSync(join(tmpdir(), "tether-e2e-runner-"));
  #child: ChildProcess | null = null;
  #output: string[] = [];

  constructor(readonly options: RunnerProcessOptions) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The ID `register` stored in the home's config.json. */
  get runnerID(): string {
    const config = JSON.parse(readFileSync(join(this.home, "config.json"), "utf8")) as { runnerID?: string };
    if (!config.runnerID) throw new Error(`no runnerID in ${this.home}/config.json`);
    return config.runnerID;
  }

  #env(): NodeJS.ProcessEnv {
    const o = this.options;
    return {
      PATH: process.env.PATH ?? "",
      HOME: this.home,
      TETHER_RUNNER_HOME: this.home,
      // The fixture repositories are bare remotes on this host's disk.
      TETHER_ALLOW_LOCAL_REPOS: "true",
      TETHER_LOG_LEVEL: "info",
      TETHER_PUSH: o.push ? "true" : "false",
      // A short grace keeps cancels quick; the worker handles SIGTERM itself.
      TETHER_STOP_GRACE_SECONDS: "3",
      // A worker image built under another tag (TETHER_WORKER_IMAGE=… npm run image) is the one tested.
      ...(process.env.TETHER_WORKER_IMAGE ? { TETHER_WORKER_IMAGE: process.env.TETHER_WORKER_IMAGE } : {}),
      ...(o.modelKey === false ? {} : { ANTHROPIC_API_KEY: FAKE_MODEL_KEY }),
      ...(o.modelURL ? { ANTHROPIC_BASE_URL: o.modelURL } : {}),
      ...o.env,
    };
  }

  /** Makes a registration token as the user, then `tether-runner register` with it. */
  async register(userToken: string): Promise<void> {
    const res = await fetch(`${this.options.edgeURL}/v1/runners/registration-tokens`, { method: "POST", headers: { authorization: `Bearer ${userToken}` } });
    if (res.status !== 201) throw new Error(`registration token: ${res.status} ${await res.text()}`);
    const { token } = (await res.json()) as { token: string };
    const args = [BIN, "register", "--edge", this.options.edgeURL, "--token", token, "--name", this.options.name ?? "e2e-runner"];
    if (this.options.labels?.length) args.push("--labels", this.options.labels.join(","));
    if (this.options.capacity !== undefined) args.push("--capacity", String(this.options.capacity));
    await run(process.execPath, args, { env: this.#env() });
  }

  /** `tether-runner start`, then waits until the edge lists this runner online. */
  async start(userToken: string, timeoutMs = 60_000): Promise<void> {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) throw new Error("the runner is already running");
    const child = spawn(process.execPath, [BIN, "start"], { env: this.#env(), stdio: ["ignore", "pipe", "pipe"] });
    this.#child = child;
    const keep = (chunk: Buffer) => {
      this.#output.push(chunk.toString());
      if (this.#output.length > 400) this.#output.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const id = this.runnerID;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`tether-runner start exited with ${child.exitCode ?? child.signalCode}:\n${this.log()}`);
      const res = await fetch(`${this.options.edgeURL}/v1/runners`, { headers: { authorization: `Bearer ${userToken}` } }).catch(() => undefined);
      if (res?.ok) {
        const { runners } = (await res.json()) as { runners: { id: string; online: boolean }[] };
        if (runners.some((r) => r.id === id && r.online)) return;
      }
      if (Date.now() > deadline) throw new Error(`runner ${id} not online within ${timeoutMs} ms:\n${this.log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGKILL: no goodbye, no flush; its containers keep running. */
  async kill9(): Promise<void> {
    await this.#signal("SIGKILL");
  }

  /** SIGTERM: the graceful stop (containers are left for the next start). */
  async stop(): Promise<void> {
    await this.#signal("SIGTERM");
  }

  async #signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }

  /** The runner's last output lines (JSON logs), for failure messages. */
  log(): string {
    return this.#output.join("").slice(-6000);
  }

  /** The runner's JSON log records kept so far (the last 400 output chunks), parsed. */
  records(): Record<string, unknown>[] {
    return this.#output
      .join("")
      .split("\n")
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  }

  async dispose(): Promise<void> {
    await this.stop();
    let id: string | undefined;
    try {
      id = this.runnerID;
    } catch {
      id = undefined;
    }
    if (id) {
      const docker = new Docker();
      for (const c of await docker.listContainers({ all: true, filters: { label: [`tether.runner=${id}`] } })) {
        await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      }
    }
    unmountUnder(this.home);
    rmSync(this.home, { recursive: true, force: true });
  }
}
