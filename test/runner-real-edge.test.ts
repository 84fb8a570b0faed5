/**
 * The runner against the real edge under `wrangler dev`: `tether-runner register` with a
 * registration token made through the REST API, `tether-runner start` with the worker image
 * and the stand-in model, then a task created, followed up and cancelled through the REST
 * API — with a `kill -9` of the runner while the task waits in between. The task log must be
 * whole, once and in order, and the diff must be stored as an artifact.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, expect, it } from "vitest";
import { mintUserToken } from "../scripts/token.ts";
import { type FakeModel, startFakeModel } from "./fake-model/index.ts";
import { createFixtureRepo, fixTheFailingTestScript, followUpScript } from "./fake-model/scripts.ts";
import { describeDocker } from "./support/docker.ts";
import { startEdge, type WranglerEdge } from "./support/edge.ts";
import type { Event } from "../shared/events.ts";

const BIN = join(import.meta.dirname, "..", "runner", "bin", "tether-runner.js");

describeDocker("tether-runner with the real edge", () => {
  let edge: WranglerEdge;
  let model: FakeModel;
  let home: string;
  let repo: string;
  let token: string;
  let runner: ChildProcess | undefined;

  beforeAll(async () => {
    edge = await startEdge();
    model = await startFakeModel({ script: [...fixTheFailingTestScript(), ...followUpScript()], listen: { port: 0 } });
    repo = join(mkdtempSync(join(tmpdir(), "re-repo-")), "fixture");
    await createFixtureRepo(repo, { git: true });
    home = mkdtempSync(join(tmpdir(), "re-"));
    token = await mintUserToken({ user: "alice", days: 1, secret: edge.secret });
  });
  afterAll(async () => {
    if (runner && runner.exitCode === null) {
      runner.kill("SIGTERM");
      await new Promise((r) => runner!.once("exit", r));
    }
    const docker = new Docker();
    const runnerID = configRunnerID();
    if (runnerID) {
      for (const c of await docker.listContainers({ all: true, filters: { label: [`tether.runner=${runnerID}`] } })) {
        await docker.getContainer(c.Id).remove({ force: true });
      }
    }
    await model?.close();
    await edge?.dispose();
  });

  const env = () => ({ PATH: process.env.PATH ?? "", HOME: home, TETHER_RUNNER_HOME: home, ANTHROPIC_API_KEY: "sk-ant-test-only", ANTHROPIC_BASE_URL: model.url!, TETHER_LOG_LEVEL: "warn", TETHER_ALLOW_LOCAL_REPOS: "true" });
  const configRunnerID = (): string | undefined => {
    try {
      return (JSON.parse(readFileSync(join(home, "config.json"), "utf8")) as { runnerID?: string }).runnerID;
    } catch {
      return undefined;
    }
  };
  async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(edge.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as T;
  }
  async function eventsOf(id: string): Promise<Event[]> {
    return (await api<{ events: Event[] }>("GET", `/v1/tasks/${id}/events?after=0&limit=1000`)).events;
  }
  async function untilStatus(id: string, status: string, count = 1): Promise<Event[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const events = await eventsOf(id);
      if (events.filter((e) => e.type === "status" && e.data.status === status).length >= count) return events;
      if (Date.now() > deadline) throw new Error(`task ${id} never reached ${status} ×${count}: ${events.map((e) => e.type).join(" ")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const start = () => {
    runner = spawn(process.execPath, [BIN, "start"], { env: env(), stdio: ["ignore", "inherit", "inherit"] });
    return runner;
  };

  it("registers, runs a task, survives kill -9 while it waits, takes a follow-up and a cancel", async () => {
    const reg = await api<{ token: string }>("POST", "/v1/runners/registration-tokens", {});
    const out = execFileSync(process.execPath, [BIN, "register", "--edge", edge.url, "--token", reg.token, "--name", "e2e"], { env: env() }).toString();
    expect(out).toContain("registered as runner");
    start();
    const { task } = await api<{ task: { id: string } }>("POST", "/v1/tasks", { repo: { url: repo }, prompt: "The test fails. Fix it." });
    await untilStatus(task.id, "waiting");

    const first = runner!;
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    start();
    await api("POST", `/v1/tasks/${task.id}/messages`, { text: "Add a subtraction helper." });
    await untilStatus(task.id, "waiting", 2);
    await api("POST", `/v1/tasks/${task.id}/cancel`, {});
    const events = await untilStatus(task.id, "cancelled");

    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const statuses = events.filter((e) => e.type === "status").map((e) => e.data.status);
    expect(statuses).toEqual(["queued", "assigned", "running", "waiting", "running", "waiting", "cancelled"]);
    const calls = events.filter((e) => e.type === "tool.start").map((e) => e.data.callID);
    expect(calls).toEqual(["toolu_list", "toolu_view", "toolu_test1", "toolu_edit", "toolu_test2", "toolu_create"]);
    expect(events.filter((e) => e.type === "turn.end")).toHaveLength(2);
    expect(events.find((e) => e.type === "diff")!.data).toMatchObject({ files: 2, insertions: 4, deletions: 1, artifact: "diff.patch" });
    const patch = await fetch(`${edge.url}/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: { authorization: `Bearer ${token}` } });
    expect(patch.status).toBe(200);
    expect(await patch.text()).toContain("+  return a + b;");
    const { task: stored } = await api<{ task: { status: string; usage: { modelCalls: number } } }>("GET", `/v1/tasks/${task.id}`);
    expect(stored.status).toBe("cancelled");
    expect(stored.usage.modelCalls).toBe(8);
    // Its own budget: three waits of up to 60 s each, and a restart.
  }, 240_000);
});
