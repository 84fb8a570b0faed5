import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeDocker } from "../../test/support/docker.ts";
import { FakeEdge } from "../testing/fake-edge.ts";
import { CloseCode } from "../../shared/sockets.ts";
import { testDir } from "../testing/temp-dir.ts";

const BIN = join(import.meta.dirname, "..", "bin", "tether-runner.js");
let edge: FakeEdge;
let edgeURL: string;
let home: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  edge = new FakeEdge();
  edgeURL = await edge.listen();
  home = testDir("tether-cli-");
});
afterEach(async () => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  await edge.close();
});

function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    // The sources, whether or not a bundle is built: runner/bin/tether-runner.test.ts covers the bundle.
    env: { PATH: process.env.PATH ?? "", HOME: home, TETHER_RUNNER_HOME: home, TETHER_LOG_LEVEL: "warn", TETHER_RUNNER_FROM_SOURCE: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

describe("tether-runner CLI", () => {
  it("registers, then status shows the runner as registered but not running", async () => {
    const reg = await cli(["register", "--edge", edgeURL, "--token", "reg-ok", "--name", "box", "--labels", "a,b"]).done;
    expect(reg.stderr).toBe("");
    expect(reg.code).toBe(0);
    expect(reg.stdout).toContain("registered as runner r1");
    expect(JSON.parse(readFileSync(join(home, "config.json"), "utf8"))).toMatchObject({ edgeURL, credential: edge.credential, runnerID: "r1", labels: ["a", "b"] });
    const status = await cli(["status", "--json"]).done;
    expect(JSON.parse(status.stdout)).toMatchObject({ registered: true, runnerID: "r1", daemon: "not running", tasks: [] });
  });

  it("exits non-zero with a clear message on a bad token or bad config", async () => {
    const reg = await cli(["register", "--edge", edgeURL, "--token", "nope"]).done;
    expect(reg.code).toBe(1);
    expect(reg.stderr).toContain("the edge refused the registration (HTTP 401)");
    const bad = await cli(["start", "--capacity", "many"]).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("capacity (--capacity, TETHER_CAPACITY");
    const unregistered = await cli(["start"]).done;
    expect(unregistered.code).toBe(1);
    expect(unregistered.stderr).toContain("not registered");
  });

  it("doctor says the model key is missing and exits 1", async () => {
    const r = await cli(["doctor", "--edge", edgeURL, "--credential", edge.credential, "--sandbox", "process"]).done;
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✗ model key: the runner has no model key (ANTHROPIC_API_KEY)");
    expect(r.stdout).toContain("✓ credential");
  });
});

describeDocker("tether-runner start", () => {
  it("connects, says hello, reports connected, and stops cleanly on SIGTERM", async () => {
    const env = { TETHER_EDGE_URL: edgeURL, TETHER_RUNNER_CREDENTIAL: edge.credential, TETHER_RUNNER_ID: `cli-test-${process.pid}`, ANTHROPIC_API_KEY: "sk-test-not-real", TETHER_CAPACITY: "3" };
    const { child, done } = cli(["start"], env);
    await edge.until(() => edge.framesOf("hello").length === 1, 20_000, "hello");
    expect(edge.framesOf("hello")[0]).toMatchObject({ capacity: 3, tasks: [] });
    await edge.until(() => readState().link === "connected", 10_000, "state connected");
    const status = await cli(["status", "--json"], env).done;
    expect(JSON.parse(status.stdout)).toMatchObject({ daemon: "running", link: "connected", pid: child.pid });
    child.kill("SIGTERM");
    const exit = await done;
    expect(exit.code).toBe(0);
    expect(readState().link).toBe("stopped");
  });

  it("logs JSON lines by default off a terminal, and readable lines with --log-format pretty", async () => {
    const env = { TETHER_EDGE_URL: edgeURL, TETHER_RUNNER_CREDENTIAL: edge.credential, TETHER_RUNNER_ID: `cli-test-${process.pid}`, ANTHROPIC_API_KEY: "sk-test-not-real", TETHER_LOG_LEVEL: "info" };
    for (const format of ["auto", "pretty"]) {
      const { child, done } = cli(["start", "--log-format", format], env);
      await edge.until(() => readState().link === "connected", 20_000, "state connected");
      child.kill("SIGTERM");
      const lines = (await done).stdout.split("\n").filter((line) => line.trim() !== "");
      expect(lines.length, `${format}: no log lines`).toBeGreaterThan(0);
      const json = lines.filter((line) => line.startsWith("{"));
      if (format === "auto") expect(json).toHaveLength(lines.length);
      else expect(json, lines.join("\n")).toHaveLength(0);
      if (format === "pretty") expect(lines.some((line) => line.includes("INFO"))).toBe(true);
    }
  });

  it("exits 2 and says so when the edge revokes the credential", async () => {
    const env = { TETHER_EDGE_URL: edgeURL, TETHER_RUNNER_CREDENTIAL: edge.credential, TETHER_RUNNER_ID: `cli-test-${process.pid}`, ANTHROPIC_API_KEY: "sk-test-not-real" };
    const { done } = cli(["start"], env);
    await edge.until(() => edge.framesOf("hello").length === 1, 20_000, "hello");
    edge.control!.close(CloseCode.Revoked, "credential revoked");
    const exit = await done;
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain("revoked the runner credential");
    expect(edge.controlConnects).toBe(1);
  });
});

function readState(): { link?: string } {
  try {
    return JSON.parse(readFileSync(join(home, "state.json"), "utf8")) as { link?: string };
  } catch {
    return {};
  }
}
