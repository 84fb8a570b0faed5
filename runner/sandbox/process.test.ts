import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunnerToWorker } from "../../shared/protocol.ts";
import { ProcessSandbox } from "./process.ts";
import type { ExitInfo, SandboxSpec, WorkerSink } from "../ports.ts";

/** A stand-in worker: answers `start` with what it sees, echoes messages, acts on the prompt. */
const STANDIN = String.raw`
import { createInterface } from "node:readline";
import { spawn } from "node:child_process";
let wseq = 0;
const say = (text) => process.stdout.write(JSON.stringify({ wseq: ++wseq, type: "agent.text", data: { turn: 0, text: String(text) } }) + "\n");
createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line);
  if (msg.type === "message") return say("echo:" + msg.text);
  if (msg.type !== "start") return;
  const mode = msg.task.prompt;
  if (mode === "env") return say(JSON.stringify({ env: process.env, cwd: process.cwd(), socketPath: msg.proxy.socketPath }));
  if (mode === "crash") { say("bye"); process.stderr.write("boom\n"); process.exit(4); }
  if (mode === "stubborn") {
    process.on("SIGTERM", () => say("ignoring SIGTERM"));
    const c = spawn("sleep", ["1000"], { stdio: "ignore" });
    return say("child " + c.pid);
  }
});
`;

function collector() {
  const got = { texts: [] as string[], bad: [] as string[], stderr: "", exit: undefined as ExitInfo | undefined };
  const sink: WorkerSink = {
    line: (parsed, raw) => (parsed.ok ? parsed.value.type === "agent.text" && got.texts.push(parsed.value.data.text) : got.bad.push(raw)),
    stderr: (text) => void (got.stderr += text),
    exit: (info) => void (got.exit = info),
  };
  return { sink, got };
}

async function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const start = (prompt: string, socketPath = "/run/tether/model.sock"): RunnerToWorker => ({
  type: "start",
  task: { taskID: "t", prompt, limits: {}, repo: { url: "file:///r" } },
  proxy: { socketPath, token: "tok" },
});

describe("ProcessSandbox", () => {
  let root: string;
  let logs = "";
  let sandbox: ProcessSandbox;
  let n = 0;
  const spec = (): SandboxSpec => {
    const base = join(root, `t${++n}`);
    return { taskID: `t${n}`, workspaceDir: join(base, "ws"), stateDir: join(base, "state"), proxySocketPath: join(base, "proxy", "model.sock"), resources: { memoryMB: 64, cpus: 1, pids: 16 } };
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "tether-process-"));
    await writeFile(join(root, "worker.mjs"), STANDIN);
    const stream = new Writable({ write: (c, _e, cb) => ((logs += String(c)), cb()) });
    sandbox = new ProcessSandbox({ runnerID: "r", logger: pino({ level: "info" }, stream), command: [process.execPath, join(root, "worker.mjs")] });
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("warns loudly that it isolates nothing", () => {
    expect(logs).toContain("isolate NOTHING");
    expect(JSON.parse(logs.split("\n")[0] ?? "{}").level).toBe(40);
  });

  it("runs the worker in the workspace with its dirs in env, none of the runner's secrets, and the proxy's host socket", async () => {
    process.env.ANTHROPIC_API_KEY = "sk-ant-should-not-pass";
    process.env.TETHER_GIT_TOKEN = "ghp-should-not-pass";
    try {
      const s = spec();
      const { sink, got } = collector();
      const worker = await sandbox.start(s, sink);
      const proxySocket = sandbox.workerProxySocket(s);
      expect(proxySocket).toBe(s.proxySocketPath);
      worker.send(start("env", proxySocket));
      await waitFor("the report", () => got.texts.length > 0);
      const seen = JSON.parse(got.texts[0] ?? "{}");
      expect(seen.cwd).toBe(s.workspaceDir);
      expect(seen.env.TETHER_WORKSPACE).toBe(s.workspaceDir);
      expect(seen.env.TETHER_STATE_DIR).toBe(s.stateDir);
      expect(seen.env.ANTHROPIC_API_KEY).toBeUndefined();
      expect(seen.env.TETHER_GIT_TOKEN).toBeUndefined();
      expect(JSON.stringify(seen.env)).not.toContain("should-not-pass");
      expect(seen.socketPath).toBe(s.proxySocketPath);
      worker.send({ type: "message", text: "hi" });
      await waitFor("the echo", () => got.texts.includes("echo:hi"));
      await worker.stop(2000);
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
      delete process.env.TETHER_GIT_TOKEN;
    }
  });

  it("reports a crash with its code, after its last line and stderr", async () => {
    const { sink, got } = collector();
    const worker = await sandbox.start(spec(), sink);
    worker.send(start("crash"));
    await waitFor("the exit", () => got.exit !== undefined);
    expect(got.texts).toEqual(["bye"]);
    expect(got.stderr).toBe("boom\n");
    expect(got.exit).toEqual({ exitCode: 4, reason: "exited", message: "exited with code 4" });
  });

  it("stops a worker that ignores SIGTERM after the grace, with the commands it started", async () => {
    const { sink, got } = collector();
    const worker = await sandbox.start(spec(), sink);
    worker.send(start("stubborn"));
    await waitFor("the child", () => got.texts.some((t) => t.startsWith("child ")));
    const childPid = Number(got.texts.find((t) => t.startsWith("child "))?.slice(6));
    const info = await worker.stop(500);
    expect(info).toEqual({ exitCode: null, reason: "killed", message: "stopped by the runner (SIGKILL)" });
    expect(got.texts).toContain("ignoring SIGTERM");
    expect(() => process.kill(childPid, 0)).toThrow();
  });

  it("has nothing to recover and no orphans", async () => {
    expect(await sandbox.recover()).toEqual([]);
    expect(await sandbox.removeOrphans()).toEqual([]);
  });
});
