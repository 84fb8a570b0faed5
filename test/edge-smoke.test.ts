/**
 * The real edge under `wrangler dev`, driven from Node with the `ws` client the way a
 * phone and a runner drive it.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startEdge, type WranglerEdge } from "./support/edge.ts";

const run = promisify(execFile);

class Client {
  readonly frames: any[] = [];
  closed: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => this.frames.push(JSON.parse(String(data))));
    ws.on("close", (code) => {
      this.closed = code;
    });
  }

  static async open(url: string, opts: { protocols?: string[]; headers?: Record<string, string> }): Promise<Client> {
    const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers });
    const client = new Client(ws);
    await new Promise<void>((res, rej) => {
      ws.once("open", () => res());
      ws.once("error", rej);
      ws.once("unexpected-response", (_req, r) => rej(new Error(`upgrade answered ${r.statusCode}`)));
    });
    return client;
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  async until(test: (frames: any[]) => boolean, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this.frames)) {
      if (Date.now() > deadline) throw new Error(`timed out; frames: ${JSON.stringify(this.frames).slice(0, 1500)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async next(type: string): Promise<any> {
    await this.until((f) => f.some((x) => x.type === type));
    return this.frames.find((x) => x.type === type);
  }

  events(): any[] {
    return this.frames.flatMap((f) => (f.type === "event" ? [f.event] : f.type === "events" ? f.events : []));
  }

  close(): void {
    this.ws.close(1000);
  }
}

describe("the edge under wrangler dev", () => {
  let dev: WranglerEdge;
  let ws: string;
  beforeAll(async () => {
    dev = await startEdge();
    ws = dev.url.replace(/^http/, "ws");
  });
  afterAll(async () => {
    await dev?.dispose();
  });

  it("takes a task from a phone to a runner and back", async () => {
    // The token command, as an operator runs it.
    const minted = await run("npx", ["tsx", "scripts/token.ts", "--user", "alice", "--org", "acme", "--dev-vars", "/nonexistent"], {
      env: { ...process.env, AUTH_SECRET: dev.secret },
    });
    const [token, linkLine] = minted.stdout.trim().split("\n");
    expect(linkLine).toBe(`login link: http://127.0.0.1:8787/#token=${token}`);
    const user = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const api = async (path: string, init: RequestInit = {}) => fetch(`${dev.url}${path}`, { ...init, headers: { ...user, ...(init.headers as object) } });

    const reg = (await (await api("/v1/runners/registration-tokens", { method: "POST" })).json()) as any;
    const registered = await fetch(`${dev.url}/v1/runners/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: reg.token, name: "smoke", labels: ["linux"], capacity: 1 }),
    });
    expect(registered.status).toBe(201);
    const { runner, credential } = (await registered.json()) as any;
    const runnerAuth = { authorization: `Bearer ${credential}` };

    const control = await Client.open(`${ws}/v1/runner/connect`, { headers: runnerAuth });
    control.send({ type: "hello", version: "smoke", labels: ["linux"], capacity: 1, tasks: [] });
    expect(await control.next("welcome")).toMatchObject({ runnerID: runner.id, heartbeatSeconds: 20, leaseSeconds: 90 });

    const created = await api("/v1/tasks", { method: "POST", body: JSON.stringify({ repo: { url: "https://example.com/r.git" }, prompt: "Fix it", labels: ["linux"] }) });
    expect(created.status).toBe(201);
    const { task } = (await created.json()) as any;
    expect(task.status).toBe("queued");

    const { assignment } = await control.next("assign");
    expect(assignment).toMatchObject({ task: { id: task.id }, epoch: 1 });
    control.send({ type: "accept", taskID: task.id, epoch: 1 });

    // A browser-style viewer: the token rides in the subprotocol list.
    const viewer = await Client.open(`${ws}/v1/tasks/${task.id}/ws?after=0`, { protocols: ["tether.v1", `bearer.${token}`] });
    expect(viewer.ws.protocol).toBe("tether.v1");
    expect(await viewer.next("replayed")).toMatchObject({ status: "assigned" });

    const data = await Client.open(`${ws}/v1/runner/tasks/${task.id}/ws`, { headers: runnerAuth });
    data.send({ type: "attach", taskID: task.id, epoch: 1, afterCommandSeq: 0 });
    await data.next("attached");
    const ts = new Date().toISOString();
    data.send({
      type: "events",
      taskID: task.id,
      epoch: 1,
      events: [
        { rseq: 1, ts, type: "status", data: { status: "running" } },
        { rseq: 2, ts, type: "agent.text", data: { turn: 0, text: "on it" } },
      ],
    });
    expect(await data.next("ack")).toMatchObject({ rseq: 2 });
    await viewer.until(() => viewer.events().some((e) => e.type === "agent.text"));
    expect(viewer.events().map((e) => e.seq)).toEqual([1, 2, 3, 4]);

    // Cancel from the phone's REST call reaches the runner's data socket.
    expect((await api(`/v1/tasks/${task.id}/cancel`, { method: "POST" })).status).toBe(202);
    expect((await data.next("command")).command).toMatchObject({ kind: "cancel" });
    data.send({ type: "events", taskID: task.id, epoch: 1, events: [{ rseq: 3, ts, type: "status", data: { status: "cancelled" } }] });
    await viewer.until(() => viewer.events().some((e) => e.type === "status" && e.data.status === "cancelled"));

    // A phone that was away resumes after the last seq it holds: no gap, no repeat.
    const held = viewer.events().at(-1).seq;
    const again = await Client.open(`${ws}/v1/tasks/${task.id}/ws?after=3`, { headers: { authorization: `Bearer ${token}` } });
    await again.next("replayed");
    expect(again.events().map((e) => e.seq)).toEqual(Array.from({ length: held - 3 }, (_, i) => i + 4));

    const got = (await (await api(`/v1/tasks/${task.id}`)).json()) as any;
    expect(got.task.status).toBe("cancelled");
    const list = (await (await api("/v1/tasks?status=cancelled")).json()) as any;
    expect(list.tasks.map((t: any) => t.id)).toEqual([task.id]);
    for (const c of [viewer, again, data, control]) c.close();
  });

  it("answers bad input with 4xx JSON errors", async () => {
    const bad = await fetch(`${dev.url}/v1/tasks`, { method: "POST", headers: { authorization: "Bearer x.y.z" }, body: "{}" });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as any).error.code).toBe("unauthorized");
    const refused = new WebSocket(`${ws}/v1/runner/connect`, { headers: { authorization: "Bearer trc_nope" } });
    const status = await new Promise<number>((res) => {
      refused.once("unexpected-response", (_req, r) => res(r.statusCode ?? 0));
      refused.once("open", () => res(101));
      refused.once("error", () => res(-1));
    });
    expect(status).toBe(401);
  });
});
