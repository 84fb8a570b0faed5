/**
 * The real edge for cross-process tests and benchmarks: `wrangler dev` (workerd) on a free
 * loopback port, with its state in a temporary folder, a fresh HS256 secret passed with
 * `--var`, and a way to stop it and start it again on the same port and state (the edge
 * "going away and coming back").
 *
 * The Worker is bundled once (`wrangler deploy --dry-run`) and served with `--no-bundle`
 * from a config in the temporary folder: `wrangler dev` reloads (and drops every socket)
 * whenever a watched source file changes, and a test must not see that.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mintUserToken } from "../../scripts/token.ts";

const ROOT = join(import.meta.dirname, "../..");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", BROWSER: "none" };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A started edge; `dispose()` stops it and removes its state. */
export async function startEdge(): Promise<WranglerEdge> {
  const edge = new WranglerEdge();
  try {
    await edge.start();
  } catch (err) {
    await edge.dispose();
    throw err;
  }
  return edge;
}

export class WranglerEdge {
  readonly secret = randomBytes(32).toString("base64url");
  readonly state = mkdtempSync(join(tmpdir(), "tether-edge-"));
  #child: ChildProcess | null = null;
  #config = "";
  #log: string[] = [];
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Bundles the Worker and copies the web app as they are on disk now, and writes a config
   * that serves those copies: a later build of either never reloads a running edge.
   */
  #prepare(): string {
    const dir = join(this.state, "worker");
    mkdirSync(dir, { recursive: true });
    execFileSync(WRANGLER, ["deploy", "--dry-run", "--outdir", join(dir, "dist")], { cwd: ROOT, env: WRANGLER_ENV, stdio: "pipe" });
    cpSync(join(ROOT, "edge", "public"), join(dir, "public"), { recursive: true });
    const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8")
      .replace(/^main = .*$/m, `main = ${JSON.stringify(join(dir, "dist", "index.js"))}`)
      .replace(/^directory = .*$/m, `directory = ${JSON.stringify(join(dir, "public"))}`);
    const config = join(dir, "wrangler.toml");
    writeFileSync(config, toml);
    return config;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    if (!this.#config) this.#config = this.#prepare();
    const inspector = await freePort();
    this.#log = [];
    const child = spawn(
      WRANGLER,
      [
        "dev",
        "--config", this.#config,
        "--no-bundle",
        "--ip", "127.0.0.1",
        "--port", String(this.port),
        "--inspector-port", String(inspector),
        "--persist-to", join(this.state, "persist"),
        "--var", `AUTH_SECRET:${this.secret}`,
        "--show-interactive-dev-session=false",
        "--log-level", "warn",
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: WRANGLER_ENV,
      },
    );
    this.#child = child;
    const keep = (chunk: Buffer) => {
      this.#log.push(chunk.toString());
      if (this.#log.length > 200) this.#log.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${this.log()}`);
      try {
        const res = await fetch(`${this.url}/healthz`);
        if (res.ok) return;
      } catch {
        // Not listening yet.
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

  /** A user token as `npm run token` makes one, a day long. */
  userToken(user: string, org?: string): Promise<string> {
    return mintUserToken({ user, org, days: 1, secret: this.secret });
  }
}
