/**
 * The client SDK against the real edge in workerd (`wrangler dev`): every event once and in
 * order, resume with `after=`, reconnects after sockets are cut mid-stream, and after the
 * whole edge goes away and comes back. Node's `ws` stands in for the browser's WebSocket.
 */
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TetherClient, type ConnectionState, type SocketLike, type TaskStream } from "../shared/client/index.ts";
import type { RunnerEventBody } from "../shared/index.ts";
import { WranglerEdge } from "./support/edge.ts";
import { ScriptedRunner, type HeldTask } from "./web-runner.ts";

/** Opens `ws` sockets and keeps them, so a test can cut them as a network would. */
function socketFactory() {
  const open: WebSocket[] = [];
  const make = (url: string, protocols: string[]): SocketLike => {
    const ws = new WebSocket(url, protocols);
    open.push(ws);
    return ws as unknown as SocketLike;
  };
  return { make, open };
}

function logs(from: number, count: number): RunnerEventBody[] {
  return Array.from({ length: count }, (_, i) => ({ type: "log", data: { level: "info", message: `line ${from + i}` } }));
}

function collect(stream: TaskStream) {
  const seqs: number[] = [];
  const states: ConnectionState[] = [];
  stream.on("events", (events) => seqs.push(...events.map((e) => e.seq)));
  stream.on("unknown", (e) => seqs.push(e.seq));
  stream.on("state", (s) => states.push(s));
  return { seqs, states };
}

async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const contiguous = (seqs: number[]) => seqs.every((s, i) => s === i + 1);

describe("client SDK against the edge in wrangler dev", () => {
  const edge = new WranglerEdge();
  let client: TetherClient;
  let runner: ScriptedRunner;

  beforeAll(async () => {
    await edge.start();
    const token = await edge.userToken(`sdk-${process.pid}`);
    client = new TetherClient({ baseURL: edge.url, token });
    runner = new ScriptedRunner(edge.url);
    await runner.register(token);
    await runner.connect();
  }, 120_000);

  /** A new running task of its own with `count` log events after its status events. */
  async function taskWithLog(count: number): Promise<HeldTask> {
    const created = await client.createTask({ repo: { url: "https://example.com/r.git" }, prompt: "stream many events" });
    const task = await runner.take();
    expect(task.id).toBe(created.id);
    await task.emit({ type: "status", data: { status: "running" } });
    for (let i = 0; i < count; i += 100) await task.emit(...logs(i, Math.min(100, count - i)));
    return task;
  }

  /** Ends a test's task, so the runner's four slots stay free for the next test. */
  async function end(task: HeldTask): Promise<void> {
    await task.emit({ type: "status", data: { status: "cancelled", reason: "the test is over" } });
  }

  afterAll(async () => {
    runner?.close();
    await edge.dispose();
  });

  it("replays the whole log in order, once, then goes live", async () => {
    const task = await taskWithLog(400);
    const last = (await client.getTask(task.id)).lastSeq;
    expect(last).toBeGreaterThan(400);
    const sockets = socketFactory();
    const stream = client.streamTask(task.id, { socket: sockets.make });
    const got = collect(stream);
    stream.start();
    await until(() => stream.state === "live", "live");
    expect(got.seqs).toHaveLength(last);
    expect(contiguous(got.seqs)).toBe(true);
    expect(got.states).toEqual(["live"]);
    await task.emit(...logs(1000, 5));
    await until(() => got.seqs.length === last + 5, "live events");
    expect(contiguous(got.seqs)).toBe(true);
    stream.close();
    await end(task);
  });

  it("resumes after= the last seq it holds and gets only what follows", async () => {
    const task = await taskWithLog(200);
    const stream = client.streamTask(task.id, { socket: socketFactory().make, after: 150 });
    const got = collect(stream);
    stream.start();
    await until(() => stream.state === "live", "live");
    const last = (await client.getTask(task.id)).lastSeq;
    expect(got.seqs[0]).toBe(151);
    expect(got.seqs.at(-1)).toBe(last);
    expect(got.seqs.every((s, i) => s === 151 + i)).toBe(true);
    stream.close();
    await end(task);
  });

  it("cut three times mid-stream, it reconnects by itself with no gap and no repeat", async () => {
    const task = await taskWithLog(100);
    const sockets = socketFactory();
    const stream = client.streamTask(task.id, { socket: sockets.make, random: () => 0.05 });
    const got = collect(stream);
    stream.start();
    await until(() => stream.state === "live", "live");
    for (let round = 0; round < 3; round++) {
      const emitting = (async () => {
        for (let i = 0; i < 5; i++) await task.emit(...logs(2000 + round * 100 + i * 20, 20));
      })();
      // Cut once this round's events have begun to arrive.
      const had = got.seqs.length;
      await until(() => got.seqs.length > had, `events of round ${round + 1}`);
      const drops = got.states.filter((s) => s === "reconnecting").length;
      sockets.open.at(-1)!.terminate();
      await until(() => got.states.filter((s) => s === "reconnecting").length > drops, `the drop of cut ${round + 1}`);
      await emitting;
      await until(() => stream.state === "live", `live again after cut ${round + 1}`);
    }
    const last = (await client.getTask(task.id)).lastSeq;
    await until(() => got.seqs.at(-1) === last, "the last event");
    expect(contiguous(got.seqs)).toBe(true);
    expect(new Set(got.seqs).size).toBe(got.seqs.length);
    expect(sockets.open.length).toBeGreaterThanOrEqual(4);
    expect(got.states.filter((s) => s === "reconnecting").length).toBeGreaterThanOrEqual(3);
    stream.close();
    await end(task);
  });

  it("goes from live to reconnecting when the edge goes away, and back to live with everything when it returns", async () => {
    const task = await taskWithLog(50);
    const stream = client.streamTask(task.id, { socket: socketFactory().make, random: () => 0.2 });
    const got = collect(stream);
    stream.start();
    await until(() => stream.state === "live", "live");
    await edge.stop();
    await until(() => stream.state === "reconnecting" || stream.state === "offline", "not live");
    expect(stream.state).not.toBe("live");
    await edge.start();
    await runner.connect();
    await task.emit(...logs(5000, 10));
    await until(() => stream.state === "live", "live after restart", 60_000);
    const last = (await client.getTask(task.id)).lastSeq;
    await until(() => got.seqs.at(-1) === last, "events sent after the restart");
    expect(contiguous(got.seqs)).toBe(true);
    expect(got.states[0]).toBe("live");
    expect(got.states.at(-1)).toBe("live");
    stream.close();
    await end(task);
  }, 120_000);

  it("stops with a clear error for a task that does not exist or a bad token", async () => {
    const task = await taskWithLog(0);
    const missing = client.streamTask("no-such-task", { socket: socketFactory().make });
    missing.start();
    await until(() => missing.state === "closed", "closed");
    expect(missing.error).toMatchObject({ status: 404 });

    const stranger = new TetherClient({ baseURL: edge.url, token: "not.a.jwt" });
    const refused = stranger.streamTask(task.id, { socket: socketFactory().make });
    refused.start();
    await until(() => refused.state === "closed", "closed");
    expect(refused.error).toMatchObject({ status: 401, code: "unauthorized" });
    await end(task);
  });
});
