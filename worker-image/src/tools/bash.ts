/**
 * The `bash` tool (Anthropic's trained `bash_20250124` definition). Each command runs in a
 * fresh `bash -c` in the workspace, in its own process group: output is streamed while it
 * runs, capped (head and tail) for the model, the exit code reported; on timeout or cancel the
 * whole group is killed. `cd` and variables do not carry over between calls (the system
 * prompt says so); `restart` is accepted and has nothing to reset.
 */
import { spawn } from "node:child_process";
import { constants } from "node:os";
import { OutputCap } from "./output-cap.ts";
import { OutputStream } from "./output-stream.ts";
import { stringField, ToolError, type Tool, type ToolContext, type ToolResult } from "./tool.ts";

const MAX_TIMEOUT_MS = 30 * 60 * 1000;

/** The environment a command sees: the worker's own, minus anything that looks like a model key. */
function commandEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(ANTHROPIC_|TETHER_PROXY)/.test(key)) env[key] = value;
  }
  return env;
}

function timeoutOf(input: Record<string, unknown>, ctx: ToolContext): number {
  const seconds = input.timeout;
  if (seconds === undefined || seconds === null) return ctx.commandTimeoutMs;
  if (typeof seconds !== "number" || !(seconds > 0)) throw new ToolError('"timeout" must be a positive number of seconds');
  return Math.min(seconds * 1000, MAX_TIMEOUT_MS);
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // The group is already gone.
  }
}

export async function runCommand(command: string, timeoutMs: number, ctx: ToolContext): Promise<ToolResult> {
  if (ctx.signal.aborted) return { ok: false, content: "cancelled before it started", summary: "cancelled", exitCode: null };
  const cap = new OutputCap();
  const out = new OutputStream(ctx.emit, ctx.callID, (text) => cap.add(text));
  const child = spawn("bash", ["-c", command], { cwd: ctx.root, env: commandEnv(), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let ending: "timeout" | "cancel" | undefined;
  const timer = setTimeout(() => {
    ending = "timeout";
    killGroup(child.pid);
  }, timeoutMs);
  const onAbort = () => {
    ending ??= "cancel";
    killGroup(child.pid);
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  child.stdout.on("data", (chunk: Buffer) => out.write("stdout", chunk));
  child.stderr.on("data", (chunk: Buffer) => out.write("stderr", chunk));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  clearTimeout(timer);
  ctx.signal.removeEventListener("abort", onAbort);
  // Background children that kept the pipes open are gone with the group too.
  killGroup(child.pid);
  out.end();
  if (exit.error) return { ok: false, content: `could not start bash: ${exit.error.message}`, summary: "could not start bash", exitCode: null };
  const exitCode = exit.code ?? (exit.signal ? 128 + constants.signals[exit.signal] : null);
  const output = cap.text();
  const shown = output === "" ? "(no output)" : output;
  if (ending === "timeout") {
    return { ok: false, content: `${shown}\n[the command timed out after ${timeoutMs / 1000} s and was killed]`, summary: `timed out after ${timeoutMs / 1000} s`, exitCode };
  }
  if (ending === "cancel") return { ok: false, content: `${shown}\n[cancelled]`, summary: "cancelled", exitCode };
  return {
    ok: exitCode === 0,
    content: exitCode === 0 ? shown : `${shown}\n[exit code ${exitCode}]`,
    summary: `exit ${exitCode}${cap.truncated ? " (output cut)" : ""}`,
    exitCode,
  };
}

export const bashTool: Tool = {
  name: "bash",
  definition: { type: "bash_20250124", name: "bash" },
  async run(input, ctx) {
    if (input.restart === true) return { ok: true, content: "The shell is fresh for every command; nothing to restart.", summary: "restart" };
    const command = stringField(input, "command", true);
    if (command.trim() === "") throw new ToolError('"command" must not be empty');
    return runCommand(command, timeoutOf(input, ctx), ctx);
  },
};
