/**
 * The real edge for cross-process tests and benchmarks: `wrangler dev` (workerd) on a
 * loopback port it picks itself (`--port 0`, read back from its "Ready on" line), with its
 * state in a temporary folder, a fresh HS256 secret passed with `--var`, and a way to stop it
 * and start it again on the same port and state (the edge "going away and coming back"; a
 * restart that finds the port taken tries again for a while).
 *
 * The Worker is bundled once (`wrangler deploy --dry-run`) and served with `--no-bundle`
 * from a config in the temporary folder: `wrangler dev` reloads (and drops every socket)
 * whenever a watched source file changes, and a test must not see that.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintUserToken } from "../../scripts/token.ts";

const ROOT = join(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", BROWSER: "none" };

const READY = /Ready on http:\/\/127\.0\.0\.1:(\d+)/;
const PORT_TAKEN = /EADDRINUSE|address already in use/i;
/** How often a restart tries again while its port is taken, 250 ms apart. */
const PORT_RETRIES = 40;

/**
 * Bundles the Worker and copies the web app as they are on disk now into `dir`, and writes a
 * config that serves those copies (returned): a later build of either never reloads a running edge.
 */
export function prepareWorker(dir: string, publicDir = join(ROOT, "edge", "public")): string {
  mkdirSync(dir, { recursive: true });
  execFileSync(WRANGLER, ["deploy", "--dry-run", "--outdir", join(dir, "dist")], { cwd: ROOT, env: WRANGLER_ENV, stdio: "pipe" });
  cpSync(publicDir, join(dir, "public"), { recursive: true });
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
    .replace(/^main = .*$/m, `main = ${JSON.stringify(join(dir, "dist", "index.js"))}`)
    .replace(/^directory = .*$/m, `directory = ${JSON.stringify(join(dir, "public"))}`);
  const config = join(dir, "wrangler.toml");
  writeFileSync(config, toml);
  return config;
}

/** What suites and benchmarks use of a local edge, whichever runs it. */
export interface LocalEdge {
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  dispose(): Promise<void>;
  /** A user token as `npm run token` makes one, a day long. */
  userToken(user: string, org?: string): Promise<string>;
}

/** A started edge; `dispose()` stops it and removes its state. */
export async function startEdge(options: { vars?: Record<string, string> } = {}): Promise<WranglerEdge> {
  const edge = new WranglerEdge(options.vars);
  try {
    await edge.start();
  } catch (err) {
    await edge.dispose();
    throw err;
  }
  return edge;
}

export class WranglerEdge implements LocalEdge {
  readonly secret = randomBytes(32).toString("base64url");
  /** Under `TETHER_EDGE_STATE_ROOT` when set (a benchmark puts it on tmpfs), else the temporary folder. */
  readonly state = mkdtempSync(join(process.env.TETHER_EDGE_STATE_ROOT || tmpdir(), "tether-edge-"));
  #child: ChildProcess | null = null;
  #config = "";
  #log: string[] = [];
  #output: string[] = [];
  port = 0;

  /** `vars`: more env vars for the Worker (each passed with `--var`); `publicDir`: the web app build to serve. */
  constructor(
    readonly vars: Record<string, string> = {},
    readonly publicDir = join(ROOT, "edge", "public"),
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.#config) this.#config = prepareWorker(join(this.state, "worker"), this.publicDir);
    for (let attempt = 1; ; attempt++) {
      const ready = await this.#launch();
      if (ready) return;
      if (this.port === 0 || attempt >= PORT_RETRIES || !PORT_TAKEN.test(this.log())) throw new Error(`wrangler dev exited:\n${this.log()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** Starts wrangler dev once; false when it exits before it answers. */
  async #launch(): Promise<boolean> {
    this.#log = [];
    const child = spawn(
      WRANGLER,
      [
        "dev",
        "--config", this.#config,
        "--no-bundle",
        "--ip", "127.0.0.1",
        "--port", String(this.port),
        "--inspector-port", "0",
        "--persist-to", join(this.state, "persist"),
        "--var", `AUTH_SECRET:${this.secret}`,
        ...Object.entries(this.vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
        "--show-interactive-dev-session=false",
        // Info, for the "Ready on" line that names the port.
        "--log-level", "info",
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: WRANGLER_ENV,
      },
    );
    this.#child = child;
    let ready = "";
    const keep = (chunk: Buffer) => {
      const text = chunk.toString();
      ready ||= READY.exec(text)?.[1] ?? "";
      this.#log.push(text);
      this.#output.push(text);
      if (this.#log.length > 200) this.#log.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.#child = null;
        return false;
      }
      if (ready) {
        this.port = Number(ready);
        try {
          const res = await fetch(`${this.url}/healthz`);
          if (res.ok) return true;
        } catch {
          // Not answering yet.
        }
      }
      await new Promise((r) => setTimeout(r, 150));
    }
    await this.stop();
    throw new Error(`wrangler dev did not answer /healthz within 60 s:\n${this.log()}`);
  }

  /** Stops workerd and wrangler (the whole process group) and waits until the port is closed. */
  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child || child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
    for (let i = 0; i < 50; i++) {
      try {
        await fetch(`${this.url}/healthz`);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        return;
      }
    }
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.state, { recursive: true, force: true });
  }

  log(): string {
    return this.#log.join("").slice(-4000);
  }

  /** Everything wrangler and workerd have written since this edge was made, across restarts. */
  output(): string {
    return this.#output.join("");
  }

  /** A user token as `npm run token` makes one, a day long. */
  userToken(user: string, org?: string): Promise<string> {
    return mintUserToken({ user, org, days: 1, secret: this.secret });
  }
}
