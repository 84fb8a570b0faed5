/**
 * Seeded inputs for the edge fuzz run (test/fuzz-edge.test.ts): a small deterministic PRNG
 * and generators of hostile values, JSON bodies, REST requests and socket frames. Everything
 * is drawn from one `Fuzz` in a fixed order, so the same seed gives the same inputs (the
 * ids the edge makes differ from run to run; what is sent around them does not).
 */
import { LIMITS } from "../../shared/limits.ts";

/** The seed: `TETHER_FUZZ_SEED` (decimal or 0x…) when set, else a fresh one. */
export function fuzzSeed(): number {
  const env = process.env.TETHER_FUZZ_SEED;
  if (env) {
    const seed = Number(env);
    if (!Number.isSafeInteger(seed)) throw new Error(`TETHER_FUZZ_SEED=${env} is not an integer`);
    return seed >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32);
}

const STRINGS = ["", " ", "x", "a".repeat(5000), "é🙂\u0000\u202e", "../../etc/passwd", "%00", "<script>", "NaN", "1e308", "-1", "null", "{}", "trc_x", "\ud800"];
export const NUMBERS = [0, -1, 1, 1e308, -1e308, 2 ** 53, 0.5, -0.0, 1_000_001, 256, 257];
const FIELDS = ["repo", "prompt", "labels", "text", "host", "token", "name", "capacity", "retentionDays", "match", "setup", "variables", "endpoint", "keys", "url", "limits", "model", "effort", "title", "type", "v", "taskID", "epoch", "__proto__", "constructor"];

/** mulberry32 with helpers. */
export class Fuzz {
  private a: number;

  constructor(readonly seed: number) {
    this.a = seed >>> 0;
  }

  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  string(): string {
    return this.pick(STRINGS);
  }

  value(depth = 0): unknown {
    switch (this.int(depth > 3 ? 4 : 7)) {
      case 0:
        return this.pick(STRINGS);
      case 1:
        return this.pick(NUMBERS);
      case 2:
        return this.pick([true, false, null]);
      case 3:
        return this.pick(STRINGS) + String(this.int(1000));
      case 4:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      case 5:
        return this.object(depth + 1);
      default:
        return this.nested(this.int(200));
    }
  }

  nested(depth: number): unknown {
    let v: unknown = 1;
    for (let i = 0; i < depth; i++) v = this.chance(0.5) ? [v] : { a: v };
    return v;
  }

  object(depth = 0): Record<string, unknown> {
    const o: Record<string, unknown> = {};
    for (let i = this.int(5); i > 0; i--) o[this.pick(FIELDS)] = this.value(depth);
    return o;
  }

  /** A body: a plausible request with mutated fields, random JSON, or not JSON at all (1 in 16 at the size bound). */
  body(): string | undefined {
    switch (this.int(16)) {
      case 0:
        return undefined;
      case 1:
        return this.pick(["", "{", "null", "[]", "\u0000", "not json", "{\"a\":1}\n{\"b\":", "1e308", "{}"]);
      case 2:
        return JSON.stringify({ repo: { url: this.pick(["https://example.com/r.git", this.value()]) }, prompt: this.value(), labels: this.value(), ...this.object() });
      case 3:
        return JSON.stringify({ text: this.chance(0.5) ? "x".repeat(LIMITS.maxMessageChars + this.int(3) - 1) : this.value(), ...this.object() });
      case 4:
        return "x".repeat(LIMITS.maxBodyBytes - 2 + this.int(5));
      case 5:
      case 6:
        return undefined;
      case 7:
      case 8:
        return JSON.stringify({ repo: { url: "https://example.com/r.git" }, prompt: this.string(), ...this.object() });
      default:
        return JSON.stringify(this.chance(0.7) ? this.object() : this.value());
    }
  }
}

/** What one party of the run holds: a user token, a runner credential and the ids of its things. */
export type Party = { name: string; token: string; credential: string; runnerID: string; taskID: string; environmentID: string };

/** One REST request to send; `crossTo` names the party whose things it names (its sender is another). */
export type FuzzRequest = { method: string; path: string; headers: Record<string, string>; body?: string; crossTo: string | null };

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
const ROUTES = [
  "/healthz", "/v1/openapi.json", "/v1/tasks", "/v1/tasks/{id}", "/v1/tasks/{id}/export", "/v1/export", "/v1/import", "/v1/settings",
  "/v1/tasks/{id}/events", "/v1/tasks/{id}/ws", "/v1/tasks/{id}/messages", "/v1/tasks/{id}/finish", "/v1/tasks/{id}/cancel",
  "/v1/tasks/{id}/egress", "/v1/tasks/{id}/artifacts/{name}", "/v1/environments", "/v1/environments/{eid}", "/v1/push/key",
  "/v1/push/subscriptions", "/v1/runners", "/v1/runners/registration-tokens", "/v1/runners/register", "/v1/runners/{rid}",
  "/v1/runners/{rid}/drain", "/v1/runner/connect", "/v1/runner/tasks/{id}/ws", "/v1/runner/tasks/{id}/artifacts/{name}",
];
const NAMED = /\{(id|rid|eid)\}/;
const QUERIES = ["", "?after=-1", "?after=1e308", "?limit=0", "?limit=100000", "?status=bogus", "?cursor=%ff", "?replace=true", "?epoch=NaN", "?epoch=1", "?epoch=2", "?q=" + "a".repeat(3000)];
const CONTENT_TYPES = ["application/json", "application/x-ndjson", "text/plain", "application/json; charset=utf-16", "multipart/form-data"];

/**
 * A REST request from `from`: any route and method; 40% of those with ids name `other`'s
 * task, runner or environment (a cross-account attempt), the rest `from`'s own (when
 * `ownIDs`) or made-up ones. Credentials: `from`'s token or runner credential, forged,
 * misspelled or none.
 */
export function fuzzRequest(f: Fuzz, from: Party, other: Party, ownIDs: boolean): FuzzRequest {
  const method = f.pick(METHODS);
  const route = f.pick(ROUTES);
  const cross = NAMED.test(route) && f.chance(0.4);
  const mine = (id: string, junk: string[]) => (ownIDs && f.chance(0.5) ? id : f.pick(junk));
  const path =
    route
      .replace("{id}", () => (cross ? other.taskID : encodeURIComponent(mine(from.taskID, ["tsk_0", "x".repeat(500), "é", "..", "%"]))))
      .replace("{rid}", () => (cross ? other.runnerID : mine(from.runnerID, ["r_0", "0", "run_x"])))
      .replace("{eid}", () => (cross ? other.environmentID : mine(from.environmentID, ["env_0", "0", "%2e%2e"])))
      .replace("{name}", () => f.pick(["diff.patch", "..%2f..%2fx", "a".repeat(300), "x.txt", "summary.md"])) + f.pick(QUERIES);
  const authorization = f.pick([`Bearer ${from.token}`, `Bearer ${from.token}`, `Bearer ${from.credential}`, "Bearer x.y.z", "Bearer ", "Basic YTpi", `bearer ${from.token}`, from.token, `Bearer ${from.token}x`, undefined]);
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (f.chance(0.8)) headers["content-type"] = f.pick(CONTENT_TYPES);
  if (f.chance(0.1)) headers[f.pick(["x-tether-account", "x-tether-user", "x-tether-runner", "cf-connecting-ip", "origin"])] = f.pick([other.name, other.runnerID, "*", "null"]);
  const body = method === "GET" || (method === "DELETE" && f.chance(0.5)) ? undefined : f.body();
  return { method, path, headers, body, crossTo: cross ? other.name : null };
}

/** Which socket a frame goes to. */
export type SocketKind = "data" | "control" | "viewer";

/** The bound of one frame on each socket. */
export const FRAME_BOUNDS: Record<SocketKind, number> = { data: LIMITS.maxRunnerFrameBytes, control: LIMITS.maxControlFrameBytes, viewer: LIMITS.maxViewerFrameBytes };

/**
 * A frame for a socket of `from`, naming `other`'s task at times: mutated protocol frames,
 * frames at the size bound, non-JSON and binary. No frame is a valid `ping` (its `pong` is
 * the run's barrier), and no event says a terminal status (the task stays open to more).
 */
export function fuzzFrame(f: Fuzz, kind: SocketKind, from: Party, other: Party, epoch: number): string | Uint8Array {
  const shape = f.int(40);
  if (shape === 0) return "not json {";
  if (shape === 1) return new Uint8Array(f.int(64)).map(() => f.int(256));
  // Frames at the data socket's 4 MiB bound are rarer: they cost the loaded machine most.
  if (shape === 2 && (kind !== "data" || f.chance(0.2))) return "x".repeat(FRAME_BOUNDS[kind] - 1 + f.int(3));
  const ids = () => f.pick([from.taskID, from.taskID, other.taskID, "tsk_" + f.int(100), "", "x".repeat(300)]);
  const epochs = () => (f.chance(0.9) ? epoch : f.pick([epoch + 1, 0, -1, 1e308, "1", null]));
  const badPing = () => ({ type: "ping", v: f.pick([2, "1", 0, null]) });
  const event = () => ({
    rseq: f.pick([1, 2, f.int(1e6), -1, 0, 1e308]),
    ts: f.pick([new Date(0).toISOString(), "x".repeat(50), 0]),
    type: f.pick(["status", "agent.text", "tool.output", "usage", "bogus"]),
    data: f.chance(0.5) ? f.object() : { status: f.pick(["running", "waiting", "bogus"]), turn: f.pick(NUMBERS), text: f.string(), costUSD: f.pick(NUMBERS) },
  });
  // An event the edge stores, now and then with one field gone wrong: duplicates, gaps and bad values near valid ones.
  const plausible = () => {
    const e: Record<string, unknown> = { rseq: 3 + f.int(60), ts: new Date(0).toISOString(), type: "agent.text", data: { turn: 1 + f.int(5), text: f.string() } };
    if (f.chance(0.2)) e[f.pick(["rseq", "ts", "type", "data"])] = f.value();
    return e;
  };
  const frames: Record<SocketKind, () => unknown> = {
    data: () =>
      f.pick([
        { type: "attach", taskID: ids(), epoch: epochs(), afterCommandSeq: f.pick([0, -1, 1e308, "0"]) },
        { type: "events", taskID: ids(), epoch: epochs(), events: Array.from({ length: f.int(4) }, event) },
        { type: "events", taskID: from.taskID, epoch, events: Array.from({ length: 1 + f.int(3) }, plausible) },
        { type: "events", taskID: from.taskID, epoch, events: Array.from({ length: LIMITS.maxEventsPerBatch + f.int(2) }, (_, i) => ({ rseq: i + 1, ts: new Date(0).toISOString(), type: "agent.text", data: { text: "x" } })) },
        badPing(),
        f.object(),
      ]),
    control: () =>
      f.pick([
        { type: "hello", version: f.value(), labels: f.value(), capacity: f.pick(NUMBERS), tasks: [{ taskID: ids(), epoch: epochs() }] },
        { type: "heartbeat", tasks: [{ taskID: ids(), epoch: epochs() }] },
        { type: f.pick(["accept", "reject"]), taskID: ids(), epoch: epochs(), reason: f.value() },
        badPing(),
        f.object(),
      ]),
    viewer: () =>
      f.pick([
        { type: "message", text: f.pick([f.string(), "x".repeat(LIMITS.maxMessageChars + 1)]) },
        { type: f.pick(["finish", "bogus", "cancel"]), v: f.pick([1, 2, undefined]), taskID: ids() },
        badPing(),
        f.object(),
      ]),
  };
  return JSON.stringify(frames[kind]());
}
