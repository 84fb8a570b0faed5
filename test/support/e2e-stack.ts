/**
 * The whole local stack for an end-to-end suite or a benchmark: the real edge under
 * `wrangler dev` (WranglerEdge, or another LocalEdge), the stand-in model, the git fixture with its bare remote, a
 * user, and the worker image (built when missing). Runners are added per suite.
 */
import Docker from "dockerode";
import { buildWorkerImage, DEFAULT_WORKER_IMAGE } from "../../worker-image/build.ts";
import type { FakeModel } from "../fake-model/index.ts";
import { type LocalEdge, WranglerEdge } from "./edge.ts";
import { startE2EModel } from "./e2e-model.ts";
import { createGitFixture, type GitFixture } from "./git-fixture.ts";
import { PhoneAPI } from "./phone-api.ts";
import { RunnerProcess, type RunnerProcessOptions } from "./runner-process.ts";

export class E2EStack {
  /** The edge: `wrangler dev` unless a benchmark passes another. */
  constructor(readonly edge: LocalEdge = new WranglerEdge()) {}
  model!: FakeModel;
  repo!: GitFixture;
  token = "";
  phone!: PhoneAPI;
  readonly runners: RunnerProcess[] = [];

  async start(): Promise<void> {
    await ensureWorkerImage();
    await this.edge.start();
    this.model = await startE2EModel();
    this.repo = await createGitFixture();
    this.token = await this.edge.userToken("e2e-user");
    this.phone = new PhoneAPI(this.edge.url, this.token);
  }

  /** Registers and starts a runner process against this stack's edge and model. */
  async addRunner(options: Omit<RunnerProcessOptions, "edgeURL" | "modelURL">): Promise<RunnerProcess> {
    const runner = new RunnerProcess({ edgeURL: this.edge.url, modelURL: this.model.url, ...options });
    this.runners.push(runner);
    await runner.register(this.token);
    await runner.start(this.token);
    return runner;
  }

  async dispose(): Promise<void> {
    for (const r of this.runners) await r.dispose();
    await this.model?.close();
    this.repo?.dispose();
    await this.edge.dispose();
  }
}

/** Builds the worker image (`npm run image`'s code) when the engine does not have it yet. */
export async function ensureWorkerImage(): Promise<void> {
  const image = process.env.TETHER_WORKER_IMAGE ?? DEFAULT_WORKER_IMAGE;
  const present = await new Docker()
    .getImage(image)
    .inspect()
    .then(() => true, () => false);
  if (!present) await buildWorkerImage();
}
