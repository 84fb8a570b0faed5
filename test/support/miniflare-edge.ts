/**
 * The edge served by Miniflare in this process: one workerd running the same Worker bundle,
 * config and persisted state layout as `wrangler dev` (test/support/edge.ts), without the
 * proxy worker `wrangler dev` puts in front of it in a second workerd. On Cloudflare nothing
 * sits between a client's socket and the Worker, so a benchmark that counts hops uses this.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { mintUserToken } from "../../scripts/token.ts";
import { type LocalEdge, prepareWorker } from "./edge.ts";

export class MiniflareEdge implements LocalEdge {
  readonly secret = randomBytes(32).toString("base64url");
  /** Under `TETHER_EDGE_STATE_ROOT` when set (a benchmark puts it on tmpfs), else the temporary folder. */
  readonly state = mkdtempSync(join(process.env.TETHER_EDGE_STATE_ROOT || tmpdir(), "tether-edge-"));
  #mf: Miniflare | null = null;
  #config = "";
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (!this.#config) this.#config = prepareWorker(join(this.state, "worker"));
    const { workerOptions } = unstable_getMiniflareWorkerOptions(this.#config);
    const script = join(dirname(this.#config), "dist", "index.js");
    const mf = new Miniflare({
      ...workerOptions,
      name: "tether-edge",
      modules: true,
      scriptPath: script,
      modulesRoot: dirname(script),
      bindings: { ...workerOptions.bindings, AUTH_SECRET: this.secret },
      host: "127.0.0.1",
      port: this.port,
      defaultPersistRoot: join(this.state, "persist"),
    });
    this.port = Number((await mf.ready).port);
    this.#mf = mf;
  }

  async stop(): Promise<void> {
    const mf = this.#mf;
    this.#mf = null;
    await mf?.dispose();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.state, { recursive: true, force: true });
  }

  userToken(user: string, org?: string): Promise<string> {
    return mintUserToken({ user, org, days: 1, secret: this.secret });
  }
}
