/**
 * A bounded, seeded fuzz run against the real edge under `wrangler dev`, from two accounts,
 * A and B, each with a runner, a leased task, an artifact and an environment:
 * - socket frames from A's runner (data and control sockets) and A's viewer: mutated
 *   protocol frames naming A's or B's task, frames at the size bound, non-JSON, binary; sent
 *   pipelined at a pace under `CAPS` (settled once per batch by a ping the object answers in
 *   order), then one over-cap burst per socket, which must be answered `rate_limited`;
 * - socket upgrades and frames that cross: each account's runner credential and user token
 *   on the other's task, B's control and data sockets naming A's task;
 * - REST requests (every route and method, hostile bodies and headers, forged and
 *   wrong-kind credentials) from A (naming its own and B's things) and from B (naming A's),
 *   eight at a time, each with its own timeout, until their count or `REST_SECONDS`; a
 *   crafted import of A's export renamed to B's task; over-cap bursts of registration tokens
 *   and follow-ups, answered 429.
 * It holds: no answer is ≥ 500 and every 4xx is `{ error: { code, message } }`; no error
 * frame is `internal`; no request naming the other account's things succeeds and no socket
 * upgrade across accounts opens; B's task (record, log, artifacts), runner and environment are
 * as they were, and A's task is untouched by B's frames; the edge's output has
 * no uncaught or unhandled error and no failed handler; an over-cap burst has at least the
 * frames a token bucket cannot have let through refused. The seed and the counts are
 * printed; `TETHER_FUZZ_SEED=<seed>` sends the same inputs again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CAPS, LIMITS } from "../shared/limits.ts";
import { startEdge, type WranglerEdge } from "./support/edge.ts";
import { Fuzz, fuzzFrame, fuzzRequest, fuzzSeed, type FuzzRequest, type Party, type SocketKind } from "./support/fuzz-inputs.ts";
import { bump, FuzzSocket } from "./support/fuzz-socket.ts";

const SEED = fuzzSeed();
const REST_FROM_A = 1600;
const REST_FROM_B = 800;
const REST_CONCURRENCY = 8;
/** The REST phase stops at its count or after this long, whichever comes first (the machine may be loaded). */
const REST_SECONDS = Number(process.env.TETHER_FUZZ_SECONDS ?? 45);
/** Fewer REST requests than this in REST_SECONDS means the edge stalled. */
const REST_FLOOR = 400;
/** The exact answer of wrangler dev's own proxy when its hop to the Worker drops (never the edge's: its 5xx are JSON). */
const DEV_PROXY_503 = "Your worker restarted mid-request";
const REQUEST_TIMEOUT_MS = 20_000;
const FRAMES: Record<SocketKind, number> = { data: 1200, viewer: 400, control: 800 };
/** Paced sending, under `CAPS` (viewer 50/s, runner 1,000/s, bursts of twice that). */
const PACE: Record<SocketKind, { perSecond: number; perBatch: number }> = {
  data: { perSecond: CAPS.runnerFramesPerSecond * 0.8, perBatch: 100 },
  control: { perSecond: CAPS.runnerFramesPerSecond * 0.8, perBatch: 100 },
  viewer: { perSecond: CAPS.viewerFramesPerSecond * 0.8, perBatch: 20 },
};
/** Over-cap bursts, sent at once: several times a full bucket, so the edge cannot read them all before it refills. */
const BURST: Record<SocketKind, number> = { viewer: 8 * CAPS.viewerFramesPerSecond, data: 6 * CAPS.runnerFramesPerSecond, control: 6 * CAPS.runnerFramesPerSecond };
/** Lines a healthy edge never writes: an uncaught error, or a handler that failed and was caught. */
const EDGE_FAULT = /uncaught|unhandled|frame failed|upgrade failed|replay failed|taskChanged failed|assign failed|export failed/i;

console.log(`fuzz seed ${SEED} (TETHER_FUZZ_SEED=${SEED} sends the same inputs again)`);

type Tally = Map<string, number>;

describe("a bounded fuzz run against the real edge", () => {
  let dev: WranglerEdge;
  let ws: string;
  const failures: string[] = [];
  const statuses: Tally = new Map();
  const sentByKind: Tally = new Map();
  const frameErrors: Tally = new Map();
  const frameAnswers: Tally = new Map();
  let crossAttempts = 0;
  const phases: string[] = [];
  let phaseAt = Date.now();
  const phase = (name: string) => {
    phases.push(`${name} ${((Date.now() - phaseAt) / 1000).toFixed(1)} s`);
    phaseAt = Date.now();
  };

  beforeAll(async () => {
    dev = await startEdge();
    ws = dev.url.replace(/^http/, "ws");
  }, 120_000);
  afterAll(async () => {
    await dev?.dispose();
  });

  /** One REST call with its own timeout; checks the answer's shape and counts its status. */
  async function send(req: FuzzRequest, kind: string): Promise<{ status: number; text: string } | null> {
    bump(sentByKind, kind);
    let res: Response;
    let text: string;
    for (let attempt = 1; ; attempt++) {
      try {
        res = await fetch(`${dev.url}${req.path}`, { method: req.method, headers: req.headers, body: req.body, redirect: "manual", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        text = await res.text();
      } catch (err) {
        failures.push(`${req.method} ${req.path.slice(0, 100)}: no answer (${(err as Error).name})`);
        return null;
      }
      // The dev proxy's hop to the Worker can drop a pooled connection (workers-sdk#14641); its
      // answer says to send the request again, once. A second one counts as a 5xx.
      if (attempt > 1 || res.status !== 503 || !text.startsWith(DEV_PROXY_503)) break;
      bump(statuses, "dev proxy 503, sent again");
    }
    bump(statuses, String(res.status));
    const label = `${req.method} ${req.path.slice(0, 100)} (${req.headers.authorization?.slice(0, 12) ?? "no auth"}) → ${res.status}`;
    if (res.status >= 500) failures.push(`${label}: ${text.slice(0, 300)}`);
    if (res.status >= 400 && res.status < 500 && !isErrorBody(text)) failures.push(`${label}: the 4xx body is not { error: { code, message } }: ${text.slice(0, 200)}`);
    if (req.crossTo !== null) {
      crossAttempts++;
      if (res.status >= 200 && res.status < 300) failures.push(`cross-account success on ${req.crossTo}'s things: ${label}`);
    }
    return { status: res.status, text };
  }

  async function api(method: string, path: string, authorization: string, body?: unknown): Promise<any> {
    const res = await fetch(`${dev.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${authorization}`, "content-type": "application/json" },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return res.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : text;
  }

  async function socket(path: string, authorization: string): Promise<FuzzSocket> {
    const s = await FuzzSocket.open(`${ws}${path}`, { authorization: `Bearer ${authorization}` });
    if (typeof s === "number") throw new Error(`${path}: the upgrade answered ${s}`);
    return s;
  }

  /** A party with a runner that holds its task (attached, two events, an artifact) and an environment. */
  async function setUp(name: string) {
    const token = await dev.userToken(name);
    const reg = await api("POST", "/v1/runners/registration-tokens", token);
    const registered = await api("POST", "/v1/runners/register", token, { token: reg.token, name, labels: [name], capacity: 1 });
    const credential: string = registered.credential;
    const { environment } = await api("POST", "/v1/environments", token, { name: `${name} env`, repository: `https://example.com/${name}.git`, variables: { MODE: name } });
    const { task } = await api("POST", "/v1/tasks", token, { repo: { url: `https://example.com/${name}.git` }, prompt: `Fix ${name}`, labels: [name] });
    const control = await socket("/v1/runner/connect", credential);
    control.send(JSON.stringify({ type: "hello", version: "fuzz", labels: [name], capacity: 1, tasks: [] }));
    expect(await control.until(() => control.received.some((f) => f.type === "assign"), 30_000)).toBe(true);
    const epoch: number = (control.received.find((f) => f.type === "assign") as any).assignment.epoch;
    control.send(JSON.stringify({ type: "accept", taskID: task.id, epoch }));
    const data = await socket(`/v1/runner/tasks/${task.id}/ws`, credential);
    data.send(JSON.stringify({ type: "attach", taskID: task.id, epoch, afterCommandSeq: 0 }));
    expect(await data.until(() => data.received.some((f) => f.type === "attached"), 30_000)).toBe(true);
    const ts = new Date().toISOString();
    data.send(JSON.stringify({ type: "events", taskID: task.id, epoch, events: [{ rseq: 1, ts, type: "status", data: { status: "running" } }, { rseq: 2, ts, type: "agent.text", data: { turn: 1, text: `${name} works` } }] }));
    expect(await data.until(() => data.received.some((f) => f.type === "ack" && f.rseq === 2), 30_000)).toBe(true);
    await api("PUT", `/v1/runner/tasks/${task.id}/artifacts/summary.md?epoch=${epoch}`, credential, `${name}'s summary`);
    const party: Party = { name, token, credential, runnerID: registered.runner.id, taskID: task.id, environmentID: environment.id };
    return { party, control, data, epoch };
  }

  /** What B's fuzzers must never change: its task's export (record, log, artifacts), runner and environments. */
  async function snapshot(p: Party): Promise<string> {
    const exported = (await api("GET", `/v1/tasks/${p.taskID}/export`, p.token)) as string;
    const lines = exported.trim().split("\n").map((l) => JSON.parse(l));
    for (const l of lines) if (l.kind === "task") delete l.task.updatedAt;
    const { runners } = await api("GET", "/v1/runners", p.token);
    const runner = runners.map((r: any) => ({ id: r.id, name: r.name, labels: r.labels, draining: r.draining }));
    const { environments } = await api("GET", "/v1/environments", p.token);
    const artifact = await fetch(`${dev.url}/v1/tasks/${p.taskID}/artifacts/summary.md`, { headers: { authorization: `Bearer ${p.token}` } });
    return JSON.stringify({ lines, runner, environments, artifact: [artifact.status, await artifact.text()] }, null, 1);
  }

  it("answers a request it refuses before reading the body with its own 4xx, not the dev proxy's 503", async () => {
    const token = await dev.userToken("fuzz-body");
    const answers: number[] = [];
    for (let i = 0; i < 20; i++) {
      for (const [path, authorization] of [["/v1/tasks", "Bearer x.y.z"], ["/v1/no-such-route", `Bearer ${token}`]] as const) {
        const res = await fetch(`${dev.url}${path}`, { method: "POST", headers: { authorization }, body: "x".repeat(LIMITS.maxBodyBytes), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        const text = await res.text();
        answers.push(res.status);
        expect(isErrorBody(text), `${res.status} ${text.slice(0, 200)}`).toBe(true);
      }
    }
    expect(new Set(answers)).toEqual(new Set([401, 404]));
  }, 120_000);

  it("answers thousands of REST requests and socket frames from two accounts with no 5xx, no edge fault and no cross-account success", async () => {
    const started = Date.now();
    phaseAt = started;
    const f = new Fuzz(SEED);
    const A = await setUp("fuzz-a");
    const B = await setUp("fuzz-b");
    const a = A.party;
    const b = B.party;
    phase("set-up");
    // B's lease stays live through the run (its runner heartbeats as a real one does).
    const beat = setInterval(() => B.control.send(JSON.stringify({ type: "heartbeat", tasks: [{ taskID: b.taskID, epoch: B.epoch }] })), 10_000);

    try {
      // Over-cap REST bursts, answered 429 rate_limited.
      const rest429: string[] = [];
      for (let i = 0; i <= CAPS.maxOpenRegistrationTokens; i++) {
        const r = await send({ method: "POST", path: "/v1/runners/registration-tokens", headers: { authorization: `Bearer ${b.token}` }, crossTo: null }, "burst registration-tokens");
        if (r?.status === 429) rest429.push(JSON.parse(r.text).error.code);
      }
      for (let i = 0; i <= CAPS.followUpsPerMinute; i++) {
        const r = await send({ method: "POST", path: `/v1/tasks/${b.taskID}/messages`, headers: { authorization: `Bearer ${b.token}`, "content-type": "application/json" }, body: JSON.stringify({ text: `note ${i}` }), crossTo: null }, "burst follow-ups");
        if (r?.status === 429) rest429.push(JSON.parse(r.text).error.code);
      }
      expect(rest429.length).toBeGreaterThanOrEqual(2);
      expect(new Set(rest429)).toEqual(new Set(["rate_limited"]));

      const bBefore = await snapshot(b);

      // Upgrades across accounts and across kinds: all refused.
      for (const [path, auth] of [
        [`/v1/runner/tasks/${b.taskID}/ws`, a.credential],
        [`/v1/tasks/${b.taskID}/ws?after=0`, a.token],
        [`/v1/tasks/${b.taskID}/ws?after=0`, a.credential],
        [`/v1/runner/tasks/${a.taskID}/ws`, b.credential],
        [`/v1/tasks/${a.taskID}/ws?after=0`, b.token],
        [`/v1/runner/connect`, a.token],
        [`/v1/runner/tasks/${a.taskID}/ws`, a.token],
      ] as const) {
        crossAttempts++;
        const s = await FuzzSocket.open(`${ws}${path}`, { authorization: `Bearer ${auth}` });
        bump(statuses, `upgrade ${typeof s === "number" ? s : "opened"}`);
        if (typeof s !== "number") {
          failures.push(`socket ${path} opened with ${auth === a.token || auth === b.token ? "a user token" : "a runner credential"} of the other account or kind`);
          s.close();
        } else if (s >= 500 || s < 400) failures.push(`socket ${path} upgrade answered ${s}`);
      }

      // B's runner names A's task on its own sockets: A's task does not move.
      const aTask = async () => JSON.stringify((({ status, runnerID, lastSeq }) => ({ status, runnerID, lastSeq }))((await api("GET", `/v1/tasks/${a.taskID}`, a.token)).task));
      const aBefore = await aTask();
      const ts = new Date().toISOString();
      const crossFrames = [
        [B.control, { type: "accept", taskID: a.taskID, epoch: A.epoch }],
        [B.control, { type: "reject", taskID: a.taskID, epoch: A.epoch, reason: "not mine" }],
        [B.control, { type: "heartbeat", tasks: [{ taskID: a.taskID, epoch: A.epoch }] }],
        [B.control, { type: "hello", version: "fuzz", labels: [b.name], capacity: 1, tasks: [{ taskID: a.taskID, epoch: A.epoch }] }],
        [B.data, { type: "events", taskID: a.taskID, epoch: A.epoch, events: [{ rseq: 3, ts, type: "agent.text", data: { turn: 1, text: "from B" } }] }],
        [B.data, { type: "attach", taskID: a.taskID, epoch: A.epoch, afterCommandSeq: 0 }],
      ] as const;
      for (const [s, frame] of crossFrames) {
        crossAttempts++;
        s.send(JSON.stringify(frame));
      }
      expect(await B.control.settle()).toBe(true);
      expect(await B.data.settle()).toBe(true);
      expect(await aTask()).toBe(aBefore);
      // An export of A's task renamed to B's, imported by A (with and without replace): refused.
      const renamed = ((await api("GET", `/v1/tasks/${a.taskID}/export`, a.token)) as string).replaceAll(a.taskID, b.taskID);
      for (const query of ["", "?replace=true"]) {
        await send({ method: "POST", path: `/v1/import${query}`, headers: { authorization: `Bearer ${a.token}`, "content-type": "application/x-ndjson" }, body: renamed, crossTo: b.name }, "import renamed");
      }

      phase("bursts and crossings");
      // A's sockets: paced fuzz, then an over-cap burst each.
      const endpoints: Record<SocketKind, { path: string; credential: string }> = {
        data: { path: `/v1/runner/tasks/${a.taskID}/ws`, credential: a.credential },
        viewer: { path: `/v1/tasks/${a.taskID}/ws?after=0`, credential: a.token },
        control: { path: "/v1/runner/connect", credential: a.credential },
      };
      const connect = (kind: SocketKind) => FuzzSocket.open(`${ws}${endpoints[kind].path}`, { authorization: `Bearer ${endpoints[kind].credential}` });
      /** A socket to go on with: a data socket attaches first, as a runner's does. */
      const reopen = async (kind: SocketKind) => {
        const s = await connect(kind);
        if (kind === "data" && typeof s !== "number") s.send(JSON.stringify({ type: "attach", taskID: a.taskID, epoch: A.epoch, afterCommandSeq: 0 }));
        return s;
      };
      const bursts: Array<Burst & { kind: SocketKind }> = [];
      for (const kind of ["data", "viewer", "control"] as const) {
        const frames = Array.from({ length: FRAMES[kind] }, () => fuzzFrame(f, kind, a, b, A.epoch));
        const sockets: FuzzSocket[] = [];
        let s: FuzzSocket | number = kind === "data" ? A.data : kind === "control" ? A.control : await connect("viewer");
        let done = 0;
        // A frame can close the socket (a wrong epoch revokes it): open another and go on, a bounded number of times.
        for (let opened = 0; done < frames.length && opened < 200; opened++) {
          if (typeof s === "number") {
            bump(statuses, `upgrade ${s}`);
            if (s >= 500) failures.push(`${kind} upgrade answered ${s}`);
            s = await reopen(kind);
            continue;
          }
          sockets.push(s);
          done += await s.pace(frames.slice(done), PACE[kind].perSecond, PACE[kind].perBatch);
          if (done < frames.length) {
            bump(statuses, `${kind} closed ${s.closed}`);
            s = await reopen(kind);
          }
        }
        // The burst goes on a fresh socket (a data socket that has not attached), with a frame refused the same way under the cap.
        const fresh = await connect(kind);
        if (typeof fresh === "number") throw new Error(`${kind}: no socket for the burst (upgrade ${fresh})`);
        sockets.push(fresh);
        await fresh.settle();
        bursts.push({ kind, ...(await burst(fresh, BURST[kind], kind === "viewer" ? CAPS.viewerFramesPerSecond : CAPS.runnerFramesPerSecond)) });
        for (const x of sockets) {
          bump(sentByKind, `${kind} frames`, x.sent);
          for (const [code, n] of x.errors) bump(frameErrors, `${kind} ${code}`, n);
          for (const [type, n] of x.others) bump(frameAnswers, `${kind} ${type}`, n);
          if (x !== A.control) x.close();
        }
      }
      for (const one of bursts) expect(one.limited, `${JSON.stringify(one)}: the frames over the cap are refused`).toBeGreaterThanOrEqual(one.least);
      // At 50 frames a second, a viewer's burst is over the cap however slowly the edge reads it.
      expect(bursts.find((one) => one.kind === "viewer")!.limited).toBeGreaterThan(0);
      expect([...frameErrors.keys()].filter((k) => k.endsWith(" internal"))).toEqual([]);
      A.control.close();
      phase("sockets");

      // REST from A (its own things and B's) and from B (A's things only), eight at a time.
      const requests = [
        ...Array.from({ length: REST_FROM_A }, () => [fuzzRequest(f, a, b, true), "REST from A"] as const),
        ...Array.from({ length: REST_FROM_B }, () => [fuzzRequest(f, b, a, false), "REST from B"] as const),
      ];
      let next = 0;
      const restEnds = Date.now() + REST_SECONDS * 1000;
      await Promise.all(
        Array.from({ length: REST_CONCURRENCY }, async () => {
          while (next < requests.length && Date.now() < restEnds) {
            const [req, kind] = requests[next++]!;
            await send(req, kind);
            if (next % 300 === 0) console.log(`fuzz: ${next} REST requests`);
          }
        }),
      );

      phase("REST");
      expect(next, `REST requests sent in ${REST_SECONDS} s`).toBeGreaterThanOrEqual(REST_FLOOR);
      const bAfter = await snapshot(b);
      const faults = dev.output().split("\n").filter((line) => EDGE_FAULT.test(line));
      console.log(
        [
          `fuzz seed ${SEED}: ${Math.round((Date.now() - started) / 1000)} s, ${crossAttempts} cross-account attempts, ${failures.length} failures, ${faults.length} edge faults (${phases.join(", ")})`,
          `sent: ${JSON.stringify(Object.fromEntries([...sentByKind].sort()))}`,
          `statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
          `other frames received: ${JSON.stringify(Object.fromEntries([...frameAnswers].sort()))}`,
          `error frames: ${JSON.stringify(Object.fromEntries([...frameErrors].sort()))}`,
          `over-cap bursts: ${JSON.stringify(bursts)}`,
        ].join("\n"),
      );
      expect(failures.slice(0, 20)).toEqual([]);
      expect(faults.slice(0, 10)).toEqual([]);
      expect(bAfter).toBe(bBefore);
    } finally {
      clearInterval(beat);
    }
  }, 300_000);
});

/** An over-cap burst: `n` frames sent at once, `limited` of them refused, answered within `seconds`; at least `least` had to be refused. */
type Burst = { n: number; limited: number; seconds: number; least: number };

/**
 * Sends `n` frames at once that the edge answers one error frame each (`invalid_frame`, or
 * `rate_limited` over the cap) and waits for every answer. The edge read them all within
 * the `seconds` from the first send to the last answer, and a bucket of `perSecond` with
 * bursts of twice that lets at most `2 × perSecond + perSecond × seconds` through in that
 * time: the rest must be refused. (An edge slower than the cap lets them all through.)
 */
async function burst(socket: FuzzSocket, n: number, perSecond: number): Promise<Burst> {
  const answers = () => (socket.errors.get("invalid_frame") ?? 0) + (socket.errors.get("rate_limited") ?? 0);
  const [answered, limitedBefore] = [answers(), socket.errors.get("rate_limited") ?? 0];
  const started = Date.now();
  for (let i = 0; i < n; i++) socket.send('{"type":"bogus"}');
  expect(await socket.until(() => answers() - answered >= n, 120_000), "every burst frame is answered").toBe(true);
  const seconds = (Date.now() - started) / 1000;
  expect(await socket.settle()).toBe(true);
  const limited = (socket.errors.get("rate_limited") ?? 0) - limitedBefore;
  return { n, limited, seconds: Number(seconds.toFixed(2)), least: Math.max(0, Math.floor(n - 2 * perSecond - perSecond * seconds)) };
}

/** The REST error shape: `{ error: { code, message } }` with two strings. */
function isErrorBody(text: string): boolean {
  try {
    const { error } = JSON.parse(text);
    return typeof error?.code === "string" && typeof error?.message === "string";
  } catch {
    return false;
  }
}
