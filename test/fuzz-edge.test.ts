/**
 * A bounded fuzz run against the real edge under `wrangler dev`: a seeded PRNG makes 1,500
 * REST requests (every route and method, path params that name the other account's task and
 * runner, hostile JSON bodies, random and wrong-kind credentials) and 1,500 socket frames (a
 * viewer socket and a runner's data and control sockets, mutated protocol frames, frames near
 * the size bounds, non-JSON, binary) from account A. It holds: no answer is ≥ 500, every 4xx
 * is `{ error: { code, message } }`, nothing A sends naming B's task or runner succeeds, B's
 * task log is unchanged, and the edge's output has no uncaught or unhandled error. The counts
 * and the seed are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LIMITS } from "../shared/limits.ts";
import { startEdge, type WranglerEdge } from "./support/edge.ts";

const SEED = 0x7e7e4;
const REST_REQUESTS = 1500;
const FRAMES_PER_SOCKET = 500;
const UNCAUGHT = /uncaught|unhandled (error|rejection|promise)/i;

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = prng(SEED);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
const chance = (p: number) => rand() < p;

const STRINGS = ["", " ", "x", "a".repeat(5000), "é🙂\u0000\u202e", "../../etc/passwd", "%00", "<script>", "NaN", "1e308", "-1", "null", "{}", "trc_x", "\ud800"];
const NUMBERS = [0, -1, 1, 1e308, -1e308, 2 ** 53, 0.5, -0.0, 1_000_001, 256, 257];

function value(depth = 0): unknown {
  switch (int(depth > 3 ? 4 : 7)) {
    case 0:
      return pick(STRINGS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return pick([true, false, null]);
    case 3:
      return pick(STRINGS) + String(int(1000));
    case 4:
      return Array.from({ length: int(4) }, () => value(depth + 1));
    case 5:
      return object(depth + 1);
    default:
      return nested(int(200));
  }
}

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = chance(0.5) ? [v] : { a: v };
  return v;
}

const FIELDS = ["repo", "prompt", "labels", "text", "host", "token", "name", "capacity", "retentionDays", "match", "setup", "variables", "endpoint", "keys", "url", "limits", "model", "effort", "title", "type", "v", "taskID", "epoch", "__proto__", "constructor"];

function object(depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = int(5); i > 0; i--) o[pick(FIELDS)] = value(depth);
  return o;
}

/** A body: a plausible request with mutated fields, random JSON, or not JSON at all. */
function body(): string | undefined {
  switch (int(8)) {
    case 0:
      return undefined;
    case 1:
      return pick(["", "{", "null", "[]", "\u0000", "not json", "{\"a\":1}\n{\"b\":", "1e308"]);
    case 2:
      return JSON.stringify({ repo: { url: pick(["https://example.com/r.git", value()]) }, prompt: value(), labels: value(), ...object() });
    case 3:
      return JSON.stringify({ text: chance(0.5) ? "x".repeat(LIMITS.maxMessageChars + int(3) - 1) : value(), ...object() });
    case 4:
      return "x".repeat(LIMITS.maxBodyBytes - 2 + int(5));
    default:
      return JSON.stringify(chance(0.7) ? object() : value());
  }
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
const ROUTES = [
  "/healthz", "/v1/openapi.json", "/v1/tasks", "/v1/tasks/{id}", "/v1/tasks/{id}/export", "/v1/export", "/v1/import", "/v1/settings",
  "/v1/tasks/{id}/events", "/v1/tasks/{id}/ws", "/v1/tasks/{id}/messages", "/v1/tasks/{id}/finish", "/v1/tasks/{id}/cancel",
  "/v1/tasks/{id}/egress", "/v1/tasks/{id}/artifacts/{name}", "/v1/environments", "/v1/environments/{id}", "/v1/push/key",
  "/v1/push/subscriptions", "/v1/runners", "/v1/runners/registration-tokens", "/v1/runners/register", "/v1/runners/{rid}",
  "/v1/runners/{rid}/drain", "/v1/runner/connect", "/v1/runner/tasks/{id}/ws", "/v1/runner/tasks/{id}/artifacts/{name}",
];
const QUERIES = ["", "?after=-1", "?after=1e308", "?limit=0", "?limit=100000", "?status=bogus", "?cursor=%ff", "?replace=true", "?epoch=NaN", "?q=" + "a".repeat(3000)];

type Account = { token: string; credential: string; runnerID: string; taskID: string };

class Socket {
  readonly frames: any[] = [];
  closed: number | null = null;
  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => this.frames.push(JSON.parse(String(data))));
    ws.on("close", (code) => {
      this.closed = code;
    });
    ws.on("error", () => {});
  }

  /** Opens a socket, or answers the status of a refused upgrade. */
  static async open(url: string, headers: Record<string, string>): Promise<Socket | number> {
    const ws = new WebSocket(url, [], { headers });
    const socket = new Socket(ws);
    return new Promise((res) => {
      ws.once("open", () => res(socket));
      ws.once("unexpected-response", (_req, r) => res(r.statusCode ?? 0));
      ws.once("error", () => res(-1));
    });
  }

  async next(type: string): Promise<any> {
    for (let i = 0; i < 1000 && !this.frames.some((f) => f.type === type); i++) {
      if (this.closed !== null) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.frames.find((f) => f.type === type);
  }

  /** Waits for a pong to a ping: every frame before it has been handled. */
  async settle(): Promise<boolean> {
    for (let attempt = 0; attempt < 50 && this.closed === null; attempt++) {
      const before = this.frames.filter((f) => f.type === "pong").length;
      this.ws.send(JSON.stringify({ type: "ping" }));
      for (let i = 0; i < 20 && this.closed === null; i++) {
        if (this.frames.filter((f) => f.type === "pong").length > before) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    return false;
  }
}

describe("a bounded fuzz run against the real edge", () => {
  let dev: WranglerEdge;
  let a: Account;
  let b: Account;

  async function account(user: string): Promise<Account> {
    const token = await dev.userToken(user);
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const reg = (await (await fetch(`${dev.url}/v1/runners/registration-tokens`, { method: "POST", headers })).json()) as any;
    const registered = (await (
      await fetch(`${dev.url}/v1/runners/register`, { method: "POST", headers, body: JSON.stringify({ token: reg.token, name: user, labels: ["linux"], capacity: 1 }) })
    ).json()) as any;
    const created = await fetch(`${dev.url}/v1/tasks`, { method: "POST", headers, body: JSON.stringify({ repo: { url: "https://example.com/r.git" }, prompt: "Fix it", labels: ["linux"] }) });
    expect(created.status).toBe(201);
    const { task } = (await created.json()) as any;
    return { token, credential: registered.credential, runnerID: registered.runner.id, taskID: task.id };
  }

  const lastSeq = async (who: Account, taskID: string) => {
    const res = await fetch(`${dev.url}/v1/tasks/${taskID}/events?after=0&limit=1000`, { headers: { authorization: `Bearer ${who.token}` } });
    expect(res.status).toBe(200);
    const page = (await res.json()) as any;
    return { count: page.events.length, last: page.events.at(-1)?.seq ?? 0 };
  };

  beforeAll(async () => {
    dev = await startEdge();
    a = await account("fuzz-a");
    b = await account("fuzz-b");
  }, 120_000);
  afterAll(async () => {
    await dev?.dispose();
  });

  it("answers 1,500 REST requests and 1,500 frames with no 5xx, no uncaught error and no cross-account success", async () => {
    const ws = dev.url.replace(/^http/, "ws");
    const bBefore = await lastSeq(b, b.taskID);
    const statuses = new Map<string, number>();
    const tally = (key: string) => statuses.set(key, (statuses.get(key) ?? 0) + 1);
    const failures: string[] = [];
    let crossAttempts = 0;

    // Sockets first, while A's runner and task are as set up.
    const runnerHeaders = { authorization: `Bearer ${a.credential}` };
    const control = await Socket.open(`${ws}/v1/runner/connect`, runnerHeaders);
    if (typeof control === "number") throw new Error(`control upgrade answered ${control}`);
    control.ws.send(JSON.stringify({ type: "hello", version: "fuzz", labels: ["linux"], capacity: 1, tasks: [] }));
    const { assignment } = await control.next("assign");
    expect(assignment.task.id).toBe(a.taskID);
    control.ws.send(JSON.stringify({ type: "accept", taskID: a.taskID, epoch: assignment.epoch }));
    const openData = () => Socket.open(`${ws}/v1/runner/tasks/${a.taskID}/ws`, runnerHeaders);
    const openViewer = () => Socket.open(`${ws}/v1/tasks/${a.taskID}/ws?after=0`, { authorization: `Bearer ${a.token}` });
    const openControl = () => Socket.open(`${ws}/v1/runner/connect`, runnerHeaders);

    // A's runner credential on B's sockets: every upgrade is refused.
    for (const url of [`${ws}/v1/runner/tasks/${b.taskID}/ws`, `${ws}/v1/tasks/${b.taskID}/ws?after=0`]) {
      for (const auth of [runnerHeaders, { authorization: `Bearer ${a.token}` }]) {
        crossAttempts++;
        const s = await Socket.open(url, auth);
        if (typeof s !== "number") {
          failures.push(`socket ${url} opened with A's credential`);
          s.ws.close();
        } else tally(`upgrade ${s}`);
      }
    }

    const ids = () => pick([a.taskID, b.taskID, "t_" + int(100), "", "x".repeat(300), "%2e%2e"]);
    const epochs = () => pick([assignment.epoch, assignment.epoch + 1, 0, -1, 1e308, "1", null]);
    const event = () => ({ rseq: pick([1, 2, int(1e6), -1, 0, 1e308]), ts: pick([new Date().toISOString(), "x".repeat(50), 0]), type: pick(["status", "agent.text", "tool.output", "usage", "bogus"]), data: chance(0.5) ? object() : { status: pick(["running", "succeeded", "bogus"]), turn: pick(NUMBERS), text: pick(STRINGS) } });
    const frames: Record<string, () => unknown> = {
      data: () => pick([
        { type: "attach", taskID: ids(), epoch: epochs(), afterCommandSeq: pick([0, -1, 1e308, "0"]) },
        { type: "events", taskID: ids(), epoch: epochs(), events: Array.from({ length: int(4) }, event) },
        { type: "events", taskID: a.taskID, epoch: assignment.epoch, events: Array.from({ length: LIMITS.maxEventsPerBatch + int(2) }, event) },
        { type: "ping", v: pick([1, 2, "1", undefined]) },
        object(),
      ]),
      control: () => pick([
        { type: "hello", version: value(), labels: value(), capacity: pick(NUMBERS), tasks: [{ taskID: ids(), epoch: epochs() }] },
        { type: "heartbeat", tasks: [{ taskID: ids(), epoch: epochs() }] },
        { type: pick(["accept", "reject"]), taskID: ids(), epoch: epochs(), reason: value() },
        { type: "ping", v: pick([1, 2, undefined]) },
        object(),
      ]),
      viewer: () => pick([
        { type: "message", text: pick([...STRINGS, "x".repeat(LIMITS.maxMessageChars + 1)]) },
        { type: pick(["finish", "bogus", "ping"]), v: pick([1, 2, undefined]), taskID: ids() },
        object(),
      ]),
    };
    const bounds: Record<string, number> = { data: LIMITS.maxRunnerFrameBytes, control: LIMITS.maxControlFrameBytes, viewer: LIMITS.maxViewerFrameBytes };
    const openers: Record<string, () => Promise<Socket | number>> = { data: openData, control: openControl, viewer: openViewer };

    let framesSent = 0;
    const frameReplies = new Map<string, number>();
    for (const kind of ["data", "control", "viewer"] as const) {
      let socket: Socket | number = kind === "control" ? control : await openers[kind]();
      if (kind === "data" && typeof socket !== "number") socket.ws.send(JSON.stringify({ type: "attach", taskID: a.taskID, epoch: assignment.epoch, afterCommandSeq: 0 }));
      for (let i = 0; i < FRAMES_PER_SOCKET; i++) {
        if (typeof socket === "number" || socket.closed !== null) {
          if (typeof socket !== "number") tally(`${kind} closed ${socket.closed}`);
          socket = await openers[kind]();
          if (typeof socket === "number") {
            tally(`upgrade ${socket}`);
            if (socket >= 500) failures.push(`${kind} upgrade answered ${socket}`);
          }
          continue;
        }
        const shape = int(40);
        const frame =
          shape === 0 ? "not json {" : shape === 1 ? new Uint8Array(int(64)).map(() => int(256)) : shape === 2 ? "x".repeat(bounds[kind] - 1 + int(3)) : JSON.stringify(frames[kind]());
        socket.ws.send(frame);
        framesSent++;
        if (i % 50 === 49) await socket.settle();
        if (i % 100 === 99) console.log(`fuzz: ${kind} ${i + 1} frames`);
      }
      if (typeof socket !== "number") {
        await socket.settle();
        for (const f of socket.frames) if (f.type === "error") frameReplies.set(`${kind} error ${f.code}`, (frameReplies.get(`${kind} error ${f.code}`) ?? 0) + 1);
        if (kind !== "control") socket.ws.close();
      }
    }
    control.ws.close();

    // REST from A.
    const auths = () => pick([`Bearer ${a.token}`, `Bearer ${a.credential}`, "Bearer x.y.z", "Bearer ", "Basic YTpi", `bearer ${a.token}`, a.token, `Bearer ${a.token}x`, undefined]);
    for (let i = 0; i < REST_REQUESTS; i++) {
      const method = pick(METHODS);
      const namesB = chance(0.4);
      const route = pick(ROUTES);
      const path =
        route
          .replace("{id}", () => (namesB ? b.taskID : encodeURIComponent(pick([a.taskID, "t_0", "x".repeat(500), "é", "..", "%"]))))
          .replace("{rid}", () => (namesB ? b.runnerID : pick([a.runnerID, "r_0", "0"])))
          .replace("{name}", () => pick(["diff.patch", "..%2f..%2fx", "a".repeat(300), "x.txt"])) + pick(QUERIES);
      const crossB = namesB && /\{(id|rid)\}/.test(route);
      const authorization = auths();
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers.authorization = authorization;
      if (chance(0.8)) headers["content-type"] = pick(["application/json", "application/x-ndjson", "text/plain", "application/json; charset=utf-16", "multipart/form-data"]);
      const payload = method === "GET" || (method === "DELETE" && chance(0.5)) ? undefined : body();
      let res: Response;
      try {
        res = await fetch(`${dev.url}${path}`, { method, headers, body: payload, redirect: "manual" });
      } catch {
        tally("client error");
        continue;
      }
      const text = await res.text();
      if (i % 250 === 249) console.log(`fuzz: ${i + 1} REST requests`);
      tally(`${Math.floor(res.status / 100)}xx`);
      if (res.status === 429) tally("429");
      const label = `${method} ${path.slice(0, 120)} (${authorization?.slice(0, 12) ?? "no auth"}) → ${res.status}`;
      if (res.status >= 500) failures.push(`${label}: ${text.slice(0, 300)}`);
      if (res.status >= 400 && res.status < 500) {
        let err: any;
        try {
          err = JSON.parse(text).error;
        } catch {
          err = undefined;
        }
        if (typeof err?.code !== "string" || typeof err?.message !== "string") failures.push(`${label}: 4xx body is not an error: ${text.slice(0, 200)}`);
      }
      if (crossB) {
        crossAttempts++;
        if (res.status < 300 && res.status >= 200) failures.push(`cross-account success: ${label}`);
      }
    }

    const bAfter = await lastSeq(b, b.taskID);
    const uncaught = dev.output().split("\n").filter((line) => UNCAUGHT.test(line));
    console.log(
      [
        `fuzz seed 0x${SEED.toString(16)}: ${REST_REQUESTS} REST requests, ${framesSent} socket frames, ${crossAttempts} cross-account attempts`,
        `statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
        `frame errors: ${JSON.stringify(Object.fromEntries([...frameReplies].sort()))}`,
        `B's task log before ${JSON.stringify(bBefore)}, after ${JSON.stringify(bAfter)}; uncaught lines in the edge's output: ${uncaught.length}; failures: ${failures.length}`,
      ].join("\n"),
    );
    expect(failures.slice(0, 20)).toEqual([]);
    expect(uncaught.slice(0, 10)).toEqual([]);
    expect(bAfter).toEqual(bBefore);
    expect(framesSent).toBeGreaterThan(FRAMES_PER_SOCKET * 2);
  }, 240_000);
});
