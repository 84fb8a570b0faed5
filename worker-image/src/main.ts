/**
 * The worker's entry: reads the runner's JSON lines on stdin, writes agent events on stdout,
 * diagnostics on stderr, and exits 0 (done), 1 (failed) or 130 (cancelled). The workspace
 * is TETHER_WORKSPACE (default /workspace), the state directory TETHER_STATE_DIR (default
 * /state), the default command timeout TETHER_COMMAND_TIMEOUT_SECONDS (default 120).
 * With TETHER_EGRESS_SOCKET and TETHER_EGRESS_PORT it first starts the loopback relay to the
 * runner's egress proxy (egress-relay.ts). `agent.mjs relay` runs the relay alone, for the
 * setup phase's container: it says `relay listening` (or `relay off`) and runs until stopped.
 */
import { realpath } from "node:fs/promises";
import { createInterface } from "node:readline";
import { ErrorCode } from "../../shared/errors.ts";
import { LIMITS } from "../../shared/limits.ts";
import { parseFrame, RunnerToWorker } from "../../shared/protocol.ts";
import { Agent, EXIT } from "./agent.ts";
import { relayConfig, startRelay } from "./egress-relay.ts";
import { EventsWriter } from "./events-writer.ts";

/** A start line carries the prompt (characters of up to four bytes) and a little more. */
const MAX_STDIN_LINE_BYTES = LIMITS.maxPromptChars * 4 + 64 * 1024;

/** Starts the relay the environment asks for; a relay that cannot start is said on stderr. */
async function relay(): Promise<boolean> {
  const config = relayConfig(process.env);
  if (!config) return false;
  try {
    await startRelay(config.socketPath, config.port);
    return true;
  } catch (err) {
    process.stderr.write(`tether-worker: the egress relay could not start: ${(err as Error).message}\n`);
    return false;
  }
}

async function relayOnly(): Promise<number> {
  process.stdout.write((await relay()) ? "relay listening\n" : "relay off\n");
  return new Promise<number>((resolve) => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => resolve(0));
  });
}

async function main(): Promise<number> {
  if (process.argv[2] === "relay") return relayOnly();
  await relay();
  const writer = new EventsWriter(process.stdout);
  const workspaceEnv = process.env.TETHER_WORKSPACE ?? "/workspace";
  let workspace: string;
  try {
    workspace = await realpath(workspaceEnv);
  } catch {
    writer.emit({ type: "error", data: { code: ErrorCode.WorkerError, message: `the workspace ${workspaceEnv} does not exist` } });
    writer.emit({ type: "done", data: { ok: false, summary: `the workspace ${workspaceEnv} does not exist` } });
    await writer.flush();
    return EXIT.failed;
  }
  const timeoutSeconds = Number(process.env.TETHER_COMMAND_TIMEOUT_SECONDS ?? 120);
  const agent = new Agent({
    workspace,
    stateDir: process.env.TETHER_STATE_DIR ?? "/state",
    writer,
    commandTimeoutMs: (Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds : 120) * 1000,
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => agent.cancel());
  // Tools run as this process's uid: without a listener, their `kill -USR1` would open Node's
  // inspector on 127.0.0.1:9229 and hand them this process's memory (the proxy token). A
  // listener replaces that default; Node 20 has no --disable-sigusr1.
  process.on("SIGUSR1", () => {});
  // The runner going away must not kill the worker with EPIPE; it finds the container again.
  process.stdout.on("error", (err) => process.stderr.write(`tether-worker: stdout: ${err.message}\n`));

  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on("line", (line) => {
    if (line.trim() === "") return;
    const parsed = parseFrame(RunnerToWorker, line, MAX_STDIN_LINE_BYTES);
    if (parsed.ok) agent.handle(parsed.value);
    else writer.emit({ type: "error", data: { code: parsed.error.code, message: `bad stdin line: ${parsed.error.message}` } });
  });
  lines.on("close", () => agent.endOfInput());
  const code = await agent.exited;
  lines.close();
  process.stdin.destroy();
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`tether-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(EXIT.failed);
  },
);
