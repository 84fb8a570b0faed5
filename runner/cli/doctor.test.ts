import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig, type RunnerConfig } from "../config.ts";
import { type DockerProbe, formatChecks, runDoctor } from "./doctor.ts";
import { FakeEdge } from "../testing/fake-edge.ts";
import { testDir } from "../testing/temp-dir.ts";

let edge: FakeEdge;
let edgeURL: string;
beforeEach(async () => {
  edge = new FakeEdge();
  edgeURL = await edge.listen();
});
afterEach(() => edge.close());

function config(flags: Record<string, unknown>): RunnerConfig {
  const r = loadConfig(flags, { TETHER_RUNNER_HOME: testDir("tether-doc-") });
  if (!r.ok) throw new Error(r.error.join("; "));
  return r.value;
}

const docker = (engine: boolean, images: string[]): DockerProbe => ({
  ping: async () => {
    if (!engine) throw new Error("connect ENOENT /var/run/docker.sock");
  },
  getImage: (name) => ({
    inspect: async () => {
      if (!images.includes(name)) throw new Error(`no such image: ${name}`);
      return { Id: "sha256:x" };
    },
  }),
});

describe("runDoctor", () => {
  it("passes when everything is in place", async () => {
    const checks = await runDoctor(config({ edgeURL, credential: edge.credential, anthropicAPIKey: "k", runnerID: "r1" }), docker(true, ["tether-worker:latest"]));
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["registration", true],
      ["model key", true],
      ["docker engine", true],
      ["worker image", true],
      ["edge", true],
      ["credential", true],
    ]);
  });

  it("names each problem with its fix: no key, no engine, unregistered", async () => {
    const checks = await runDoctor(config({}), docker(false, []));
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName["registration"]).toMatchObject({ ok: false, fix: expect.stringContaining("tether-runner register") });
    expect(byName["model key"]).toMatchObject({ ok: false, detail: expect.stringContaining("ANTHROPIC_API_KEY") });
    expect(byName["docker engine"]).toMatchObject({ ok: false, detail: expect.stringContaining("ENOENT") });
    expect(byName["worker image"]).toBeUndefined();
    expect(formatChecks(checks)).toContain("✗ model key");
  });

  it("finds a missing image, a refused credential and an unreachable edge", async () => {
    const refused = await runDoctor(config({ edgeURL, credential: "revoked", anthropicAPIKey: "k" }), docker(true, []));
    expect(refused.find((c) => c.name === "worker image")).toMatchObject({ ok: false, fix: expect.stringContaining("npm run image") });
    expect(refused.find((c) => c.name === "credential")).toMatchObject({ ok: false, detail: expect.stringContaining("HTTP 401") });
    await edge.close();
    edge = new FakeEdge();
    const down = await runDoctor(config({ edgeURL, credential: "c", anthropicAPIKey: "k" }), docker(true, ["tether-worker:latest"]));
    expect(down.find((c) => c.name === "edge")).toMatchObject({ ok: false, detail: expect.stringContaining("cannot reach") });
  });

  it("checks each allowed image as tasks get it, and says how to fix one that cannot run the agent", async () => {
    const checked: string[] = [];
    const checks = await runDoctor(
      config({ edgeURL, credential: edge.credential, anthropicAPIKey: "k", allowedImages: "tether-worker:envs-alt,tether-worker:envs-nonode" }),
      docker(true, ["tether-worker:latest"]),
      10_000,
      async (image) => {
        checked.push(image);
        return image.endsWith("nonode") ? { ok: false, error: "it has no node on its PATH: the agent needs node 20 or later" } : { ok: true, value: undefined };
      },
    );
    expect(checked).toEqual(["tether-worker:envs-alt", "tether-worker:envs-nonode"]);
    const images = checks.filter((c) => c.name.startsWith("allowed image"));
    expect(images.map((c) => [c.name, c.ok])).toEqual([
      ["allowed image tether-worker:envs-alt", true],
      ["allowed image tether-worker:envs-nonode", false],
    ]);
    expect(images[1]!.detail).toBe("tasks whose environment names it fail: it has no node on its PATH: the agent needs node 20 or later");
    expect(images[1]!.fix).toMatch(/take it out of allowedImages/);
  });

  it("warns loudly about the process sandbox", async () => {
    const checks = await runDoctor(config({ sandbox: "process", anthropicAPIKey: "k" }), docker(false, []));
    expect(checks.find((c) => c.name === "sandbox")).toMatchObject({ ok: true, warn: true, detail: expect.stringContaining("isolates NOTHING") });
    expect(checks.find((c) => c.name === "docker engine")).toBeUndefined();
  });
});
