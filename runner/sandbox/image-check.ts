/**
 * Whether another image can run the agent (internal to sandbox/), checked in a container of
 * that image made with the workers' hardening (hardening.ts), their user and the agent
 * mounted read-only as the workers get it (agent-bundle.ts). A small script run by the
 * image's `node` reports its version, whether the agent's uid can read the node binary, and
 * whether the agent starts (`agent.mjs relay` with no egress says `relay off`). The image
 * passes when its node is at least `MIN_NODE_MAJOR`, unreadable by the agent's uid (the
 * kernel then makes the agent non-dumpable, so its tools cannot read the proxy token from its
 * memory, as in the worker image) and the agent starts. The answer is kept per image ID (an
 * image's content never changes under its ID); a check that could not be made is not kept.
 */
import type Docker from "dockerode";
import type { Result, SandboxResources } from "../ports.ts";
import { AGENT_PATH } from "./agent-bundle.ts";
import { type Hardening, hardenedHostConfig } from "./hardening.ts";

/** The agent's bundle targets node 20. */
export const MIN_NODE_MAJOR = 20;
const CHECK_RESOURCES: SandboxResources = { memoryMB: 256, cpus: 1, pids: 64 };
const CHECK_TIMEOUT_MS = 60_000;

/** Run by the image's node as `node -e`: prints one JSON line, `{ node, nodeReadable, agent }`. */
const CHECK_SCRIPT = `
const fs = require("fs"), cp = require("child_process");
const report = { node: process.versions.node, nodeReadable: false, agent: "" };
try { fs.accessSync(fs.realpathSync(process.execPath), fs.constants.R_OK); report.nodeReadable = true; } catch (e) {}
const agent = cp.spawn(process.execPath, [${JSON.stringify(AGENT_PATH)}, "relay"], { env: { PATH: process.env.PATH || "", HOME: "/tmp" }, stdio: ["ignore", "pipe", "pipe"] });
let out = "", err = "", done = false;
function finish(ok, why) {
  if (done) return;
  done = true;
  report.agent = ok ? "ok" : (why || (err || out).trim().slice(-600) || "it exited without a word");
  try { agent.kill("SIGKILL"); } catch (e) {}
  process.stdout.write(JSON.stringify(report) + "\\n", () => process.exit(0));
}
agent.stdout.on("data", (d) => { out += d; if (/^relay off$/m.test(out)) finish(true); });
agent.stderr.on("data", (d) => { err += d; });
agent.on("error", (e) => finish(false, e.message));
agent.on("exit", () => setTimeout(() => finish(/^relay off$/m.test(out)), 50));
setTimeout(() => finish(false, "it did not start within 20 s"), 20000);
`;

interface CheckReport {
  node: string;
  nodeReadable: boolean;
  agent: string;
}

export interface ImageCheckOptions {
  hardening: Hardening;
  /** `uid:gid` the workers run as. */
  user: string;
  labels: Record<string, string>;
  /** The agent's bundle on the host (agent-bundle.ts). */
  agentBundle(): Promise<string>;
}

export class ImageCheck {
  private readonly answers = new Map<string, Promise<Result<void>>>();

  constructor(
    private readonly docker: Docker,
    private readonly opts: ImageCheckOptions,
  ) {}

  async check(image: string): Promise<Result<void>> {
    let imageID: string;
    try {
      imageID = ((await this.docker.getImage(image).inspect()) as { Id: string }).Id;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return { ok: false, error: `it is not on this runner's Docker host (pull or build it there)` };
      throw err;
    }
    const known = this.answers.get(imageID);
    if (known) return known;
    const answer = this.run(imageID);
    this.answers.set(imageID, answer);
    answer.catch(() => this.answers.delete(imageID));
    return answer;
  }

  private async run(imageID: string): Promise<Result<void>> {
    const agent = await this.opts.agentBundle();
    const container = await this.docker.createContainer({
      Image: imageID,
      Entrypoint: ["node", "-e", CHECK_SCRIPT],
      Cmd: [],
      User: this.opts.user,
      WorkingDir: "/tmp",
      Env: ["HOME=/tmp"],
      Labels: this.opts.labels,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      HostConfig: hardenedHostConfig(this.opts.hardening, CHECK_RESOURCES, [`${agent}:${AGENT_PATH}:ro`]),
    });
    try {
      try {
        await container.start();
      } catch (err) {
        return { ok: false, error: `its node could not start: ${(err as Error).message}`.slice(0, 1000) };
      }
      const exited = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, delay(CHECK_TIMEOUT_MS).then(() => undefined)]);
      if (!exited) throw new Error(`the check of the image did not end within ${CHECK_TIMEOUT_MS / 1000} s`);
      const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
      return verdictOf(exited.StatusCode, demux(logs), this.opts.user);
    } finally {
      await container.remove({ force: true }).catch(() => {});
    }
  }
}

function verdictOf(exitCode: number, output: { stdout: string; stderr: string }, user: string): Result<void> {
  const line = output.stdout.trim().split("\n").reverse().find((l) => l.startsWith("{"));
  let report: CheckReport | undefined;
  try {
    report = line ? (JSON.parse(line) as CheckReport) : undefined;
  } catch {
    report = undefined;
  }
  const tail = (output.stderr || output.stdout).trim().slice(-500);
  if (!report) {
    if (exitCode === 127 || /no such file|not found/i.test(tail)) return { ok: false, error: `it has no node on its PATH: the agent needs node ${MIN_NODE_MAJOR} or later` };
    return { ok: false, error: `its node could not run the check (exit code ${exitCode})${tail ? `: ${tail}` : ""}` };
  }
  const major = Number(report.node.split(".")[0]);
  if (!(major >= MIN_NODE_MAJOR)) return { ok: false, error: `its node is v${report.node}: the agent needs node ${MIN_NODE_MAJOR} or later` };
  if (report.nodeReadable) {
    return {
      ok: false,
      error:
        `its node binary is readable by the agent's uid (${user.split(":")[0]}), so the agent's tools could read its memory and the model proxy token; ` +
        `make it executable only (chmod 0711 "$(readlink -f "$(command -v node)")" in the image)`,
    };
  }
  if (report.agent !== "ok") return { ok: false, error: `its node v${report.node} cannot run the agent: ${report.agent}` };
  return { ok: true, value: undefined };
}

/** Docker's multiplexed log frames (no TTY): an 8-byte header (stream, size) before each chunk. */
function demux(logs: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= logs.length) {
    const size = logs.readUInt32BE(offset + 4);
    (logs[offset] === 2 ? err : out).push(logs.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
