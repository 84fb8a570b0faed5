/**
 * The whole local stack for an end-to-end suite: the real edge under `wrangler dev`
 * (WranglerEdge), the stand-in model, the git fixture with its bare remote, a user, and the
 * worker image (built when missing). Runners are added per suite. Also the checks every
 * suite makes of a task's log.
 */
import Docker from "dockerode";
import { expect } from "vitest";
import { AGENT_EVENT_TYPES, type Event } from "../../shared/events.ts";
import { buildWorkerImage, DEFAULT_WORKER_IMAGE } from "../../worker-image/build.ts";
import type { FakeModel } from "../fake-model/index.ts";
import { WranglerEdge } from "../web-edge.ts";
import { startE2EModel } from "./e2e-model.ts";
import { createGitFixture, type GitFixture } from "./git-fixture.ts";
import { PhoneAPI } from "./phone-api.ts";
import { RunnerProcess, type RunnerProcessOptions } from "./runner-process.ts";
import { describeEvents } from "./viewer-socket.ts";

export class E2EStack {
  readonly edge = new WranglerEdge();
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

/** `seq` runs 1, 2, 3 … with no gap and no repeat. */
export function expectContiguous(events: Event[]): void {
  const seqs = events.map((e) => e.seq);
  expect(seqs, `seq not contiguous:\n${describeEvents(events)}`).toEqual(seqs.map((_, i) => i + 1));
}

/** The statuses of a log, in order. */
export function statusesOf(events: Event[]): string[] {
  return events.filter((e) => e.type === "status").map((e) => String(e.data.status));
}

/** Agent events that would be a repeat: a second tool.start or tool.end of one call, a second agent.text, a line of output twice. */
export function repeatedAgentEvents(events: Event[]): string[] {
  const seen = new Set<string>();
  const repeats: string[] = [];
  for (const e of events) {
    if (!(AGENT_EVENT_TYPES as readonly string[]).includes(e.type) || e.type === "agent.text.delta" || e.type === "usage") continue;
    const key = e.type === "tool.start" || e.type === "tool.end" ? `${e.type} ${String(e.data.callID)}` : `${e.type} ${JSON.stringify(e.data)}`;
    if (seen.has(key)) repeats.push(`${e.seq} ${key}`);
    seen.add(key);
  }
  return repeats;
}

/** The text a tool call printed, joined from its `tool.output` events. */
export function outputOf(events: Event[], callID: string): string {
  return events
    .filter((e) => e.type === "tool.output" && e.data.callID === callID)
    .map((e) => String(e.data.text))
    .join("");
}
