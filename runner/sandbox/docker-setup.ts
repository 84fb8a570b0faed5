/**
 * A task's setup phase in Docker (internal to sandbox/): a container made like the worker's
 * (same hardening, mounts, limits, no network), whose program is the egress relay alone
 * (`agent.mjs relay`); each setup step is a `docker exec` of `sh -c <command>` in
 * /workspace as the worker's user, its output demuxed and handed on as it comes, its exit
 * code read from the exec. `close` removes the container, which ends a step still running.
 */
import { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type Docker from "dockerode";
import type { SetupSession } from "../ports.ts";

/** How long the relay may take to say it listens. */
const READY_TIMEOUT_MS = 30_000;

export class DockerSetupSession implements SetupSession {
  private constructor(
    private readonly container: Docker.Container,
    private readonly user: string,
  ) {}

  /** Starts `container` and waits for its relay to say `relay listening` (or `relay off`). */
  static async open(container: Docker.Container, user: string): Promise<DockerSetupSession> {
    try {
      const stream = await container.attach({ stream: true, stdout: true, stderr: true, logs: true });
      const ready = waitForLine(container, stream, /^relay (listening|off)$/m);
      await container.start();
      await ready;
      stream.removeAllListeners("data");
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      return new DockerSetupSession(container, user);
    } catch (err) {
      await container.remove({ force: true }).catch(() => {});
      throw err;
    }
  }

  async exec(command: string, onOutput: (stream: "stdout" | "stderr", text: string) => void): Promise<number | null> {
    const exec = await this.container.exec({ Cmd: ["sh", "-c", command], AttachStdout: true, AttachStderr: true, WorkingDir: "/workspace", User: this.user });
    const stream = await exec.start({ hijack: true, stdin: false });
    const out = decodedWritable((text) => onOutput("stdout", text));
    const err = decodedWritable((text) => onOutput("stderr", text));
    this.container.modem.demuxStream(stream, out.writable, err.writable);
    await new Promise<void>((resolve) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", resolve);
    });
    out.flush();
    err.flush();
    try {
      const info = (await exec.inspect()) as { ExitCode: number | null; Running: boolean };
      return info.Running ? null : info.ExitCode;
    } catch {
      return null;
    }
  }

  async close(): Promise<void> {
    await this.container.remove({ force: true }).catch(() => {});
  }
}

function decodedWritable(emit: (text: string) => void): { writable: Writable; flush: () => void } {
  const decoder = new StringDecoder("utf8");
  const writable = new Writable({
    write: (chunk: Buffer, _e, done) => {
      const text = decoder.write(chunk);
      if (text) emit(text);
      done();
    },
  });
  return {
    writable,
    flush: () => {
      const rest = decoder.end();
      if (rest) emit(rest);
    },
  };
}

/** Resolves once the container's output holds `pattern`; rejects when it exits first or takes too long. */
function waitForLine(container: Docker.Container, stream: NodeJS.ReadableStream, pattern: RegExp): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let seen = "";
    const out = new Writable({
      write: (chunk: Buffer, _e, done) => {
        seen += chunk.toString("utf8");
        if (pattern.test(seen)) finish();
        done();
      },
    });
    const timer = setTimeout(() => finish(new Error(`the setup container's relay did not start within ${READY_TIMEOUT_MS / 1000} s: ${seen.slice(-500)}`)), READY_TIMEOUT_MS);
    let done = false;
    function finish(err?: Error): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    }
    container.modem.demuxStream(stream, out, out);
    stream.once("end", () => finish(new Error(`the setup container stopped before its relay started: ${seen.slice(-500)}`)));
  });
}
