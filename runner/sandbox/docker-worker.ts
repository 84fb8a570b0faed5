/**
 * A worker container as the runner holds it (internal to sandbox/): its attach stream split
 * with `modem.demuxStream` (stdout lines parsed one by one, worker-lines.ts; stderr passed on
 * as text), its stdin for the runner's lines, its exit watched once it runs, its output
 * paused and read on as the runner's outbox asks.
 */
import { Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type Docker from "dockerode";
import type { Logger } from "pino";
import { WorkerLineSplitter } from "./worker-lines.ts";
import type { ExitInfo, WorkerHandle, WorkerSink } from "../ports.ts";

/** How long output may trail the container's exit before the stream is closed anyway. */
const OUTPUT_DRAIN_MS = 2000;

export class DockerWorker implements WorkerHandle {
  readonly id: string;
  private stopping = false;
  private readonly exited: Promise<ExitInfo>;
  private readonly drained: Promise<void>;
  private begin!: () => void;
  /** Set while the output is paused: resolves when it is read on. */
  private paused: { resumed: Promise<void>; resume: () => void } | undefined;

  constructor(
    private readonly container: Docker.Container,
    readonly taskID: string,
    private readonly stream: NodeJS.ReadableStream | NodeJS.ReadWriteStream,
    sink: WorkerSink,
    private readonly log: Logger | undefined,
  ) {
    this.id = container.id;
    const splitter = new WorkerLineSplitter(sink);
    const decoder = new StringDecoder("utf8");
    // Writables whose write runs synchronously, so every byte is handed on before "end".
    const stdout = new Writable({
      write: (chunk: Buffer, _e, done) => {
        splitter.push(chunk);
        done();
      },
    });
    const stderr = new Writable({
      write: (chunk: Buffer, _e, done) => {
        const text = decoder.write(chunk);
        if (text) sink.stderr(text);
        done();
      },
    });
    container.modem.demuxStream(stream, stdout, stderr);
    // A write to a container that just exited fails with EPIPE: logged, never thrown.
    stream.on("error", (err: Error) => this.log?.warn({ err: err.message }, "worker stream failed"));
    this.drained = new Promise<void>((resolve) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", resolve);
    });
    // Docker's wait answers at once, with code 0, for a container not yet started: the exit is
    // watched only once the container runs (or has run).
    const started = new Promise<void>((resolve) => (this.begin = resolve));
    this.exited = started.then(() => this.waitForExit()).then((info) => {
      splitter.end();
      const rest = decoder.end();
      if (rest) sink.stderr(rest);
      sink.exit(info);
      return info;
    });
  }

  /** Starts watching for the exit; call once the container has been started. */
  watch(): this {
    this.begin();
    return this;
  }

  send(message: Parameters<WorkerHandle["send"]>[0]): void {
    const stream = this.stream as NodeJS.ReadWriteStream & { destroyed?: boolean };
    if (stream.destroyed || !("write" in stream)) {
      this.log?.warn({ type: message.type }, "worker stdin is closed; message dropped");
      return;
    }
    stream.write(`${JSON.stringify(message)}\n`);
  }

  pauseOutput(): void {
    if (this.paused) return;
    let resume!: () => void;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    this.paused = { resumed, resume };
    this.stream.pause();
  }

  resumeOutput(): void {
    const paused = this.paused;
    this.paused = undefined;
    this.stream.resume();
    paused?.resume();
  }

  async freeze(): Promise<void> {
    await this.container.pause();
  }

  /** A container that is not paused (or gone) is left as it is: Docker answers an unpause of one with a 500. */
  async thaw(): Promise<void> {
    const info = (await this.container.inspect().catch(ignoreGone)) as Docker.ContainerInspectInfo | undefined;
    if (info?.State.Paused) await this.container.unpause().catch(ignoreGone);
  }

  async stop(graceMs: number): Promise<ExitInfo> {
    this.stopping = true;
    await this.thaw();
    await this.container.stop({ t: Math.ceil(graceMs / 1000) }).catch(ignoreGone);
    return this.exited;
  }

  async remove(): Promise<void> {
    await this.container.remove({ force: true }).catch(ignoreGone);
  }

  private async waitForExit(): Promise<ExitInfo> {
    try {
      const result = (await this.container.wait()) as { StatusCode: number };
      // Paused output is still to come: the drain's clock starts once it is read on.
      while (this.paused) await this.paused.resumed;
      // The last output may still be on its way; a stream that never ends is closed anyway.
      const drained = await Promise.race([this.drained.then(() => true), delay(OUTPUT_DRAIN_MS).then(() => false)]);
      if (!drained) (this.stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      await new Promise((resolve) => setImmediate(resolve));
      const state = (await this.container.inspect()) as Docker.ContainerInspectInfo;
      return exitInfo(result.StatusCode, state, this.stopping);
    } catch (err) {
      this.log?.error({ err: (err as Error).message }, "container wait failed");
      return { exitCode: null, reason: "error", message: `the container could not be watched: ${(err as Error).message}` };
    }
  }
}

function exitInfo(code: number, state: Docker.ContainerInspectInfo, stopping: boolean): ExitInfo {
  if (state.State.OOMKilled) {
    const mb = Math.round((state.HostConfig.Memory ?? 0) / 1024 / 1024);
    return { exitCode: code, reason: "oom", message: `killed by the kernel: out of memory (limit ${mb} MB)` };
  }
  if (stopping) return { exitCode: code, reason: "killed", message: `stopped by the runner (exit code ${code})` };
  if (code === 137) return { exitCode: code, reason: "killed", message: "killed by SIGKILL (exit code 137)" };
  return { exitCode: code, reason: "exited", message: `exited with code ${code}` };
}

export function ignoreGone(err: { statusCode?: number }): void {
  // 304: already stopped; 404: already gone.
  if (err.statusCode !== 304 && err.statusCode !== 404) throw err;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
