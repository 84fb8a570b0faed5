import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Event } from "../events.ts";
import { BEARER_SUBPROTOCOL_PREFIX, CLOSE_ABNORMAL, PING_TEXT, SUBPROTOCOL } from "../sockets.ts";
import { TetherError } from "./errors.ts";
import { SHAPE_CHECKS } from "./shape-checks.ts";
import { ZOD_CHECKS } from "./zod-checks.ts";
import { TaskStream, type ConnectionState, type KnownEvent, type SocketLike, type TaskStreamOptions } from "./task-stream.ts";

class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: string[] = [];
  closed = false;

  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(value: unknown): void {
    this.onmessage?.({ data: typeof value === "string" ? value : JSON.stringify(value) });
  }
  events(...seqs: number[]): void {
    this.frame({ type: "events", events: seqs.map(ev) });
  }
  replayed(lastSeq: number, status = "running"): void {
    this.frame({ type: "replayed", lastSeq, status });
  }
  drop(): void {
    this.readyState = 3;
    this.onclose?.({ code: CLOSE_ABNORMAL, reason: "" });
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
}

function ev(seq: number): Event {
  return { seq, ts: "2026-11-28T01:00:00.000Z", type: "log", data: { level: "info", message: `m${seq}` } };
}

function setup(options: Partial<TaskStreamOptions> = {}) {
  const sockets: FakeSocket[] = [];
  const stream = new TaskStream({
    url: "ws://edge/v1/tasks/t1/ws",
    token: () => "tok",
    checks: ZOD_CHECKS,
    random: () => 0.5,
    socket: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s;
    },
    ...options,
  });
  const seqs: number[] = [];
  const states: ConnectionState[] = [];
  stream.on("events", (events: KnownEvent[]) => seqs.push(...events.map((e) => e.seq)));
  stream.on("state", (s) => states.push(s));
  const last = () => sockets[sockets.length - 1]!;
  return { stream, sockets, seqs, states, last };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("TaskStream", () => {
  it("authenticates with the subprotocol header and asks for events after the last seq it holds", () => {
    const { stream, last } = setup({ after: 7 });
    stream.start();
    expect(last().url).toBe("ws://edge/v1/tasks/t1/ws?after=7");
    expect(last().protocols).toEqual([SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}tok`]);
  });

  it("is live only once the socket is open and the edge said replayed", () => {
    const { stream, last } = setup();
    stream.start();
    expect(stream.state).toBe("connecting");
    last().open();
    last().events(1, 2);
    expect(stream.state).toBe("connecting");
    last().replayed(2);
    expect(stream.state).toBe("live");
    last().drop();
    expect(stream.state).toBe("reconnecting");
  });

  it("delivers each event once and in order, dropping repeats", () => {
    const { stream, seqs, last } = setup();
    stream.start();
    last().open();
    last().events(1, 2, 3);
    last().events(2, 3, 4);
    last().frame({ type: "event", event: ev(4) });
    last().frame({ type: "event", event: ev(5) });
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(stream.lastSeq).toBe(5);
  });

  it("on a gap delivers what came before it, then reconnects with after= the last seq", () => {
    const { stream, seqs, sockets, last } = setup();
    stream.start();
    last().open();
    last().events(1, 2, 4, 5);
    expect(seqs).toEqual([1, 2]);
    expect(sockets[0]!.closed).toBe(true);
    expect(stream.state).toBe("reconnecting");
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(2);
    expect(last().url).toContain("?after=2");
    last().open();
    last().events(3, 4, 5);
    last().replayed(5);
    expect(seqs).toEqual([1, 2, 3, 4, 5]);
    expect(stream.state).toBe("live");
  });

  it("treats a replayed frame past its last seq as a gap", () => {
    const { stream, sockets, last } = setup();
    stream.start();
    last().open();
    last().events(1);
    last().replayed(3);
    expect(stream.state).toBe("reconnecting");
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(2);
    expect(last().url).toContain("?after=1");
  });

  it("resumes after a drop with no repeat and no gap", () => {
    const { stream, seqs, last } = setup();
    stream.start();
    last().open();
    last().events(1, 2, 3);
    last().replayed(3);
    last().events(4);
    last().drop();
    vi.advanceTimersByTime(1000);
    expect(last().url).toContain("?after=4");
    last().open();
    // An edge may resend what the client already holds; it must not show twice.
    last().events(3, 4, 5, 6);
    last().replayed(6);
    last().frame({ type: "event", event: ev(7) });
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("waits with full jitter, growing per failed attempt, and goes offline after three failures", () => {
    const { stream, sockets, states, last } = setup();
    stream.start();
    last().drop();
    expect(stream.state).toBe("reconnecting");
    // attempt 0: random(0, 1 s) = 500 ms with random() = 0.5
    vi.advanceTimersByTime(499);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);
    last().drop();
    // attempt 1: 0.5 × 2 s
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(3);
    last().drop();
    expect(stream.state).toBe("offline");
    expect(states).toEqual(["reconnecting", "offline"]);
    // attempt 2: 0.5 × 4 s
    vi.advanceTimersByTime(2000);
    expect(sockets).toHaveLength(4);
    last().open();
    last().replayed(0);
    expect(stream.state).toBe("live");
  });

  it("resets the backoff after a connection that stayed up", () => {
    const { stream, sockets, last } = setup({ stableAfterMs: 5000 });
    stream.start();
    for (const delay of [500, 1000, 2000]) {
      last().drop();
      vi.advanceTimersByTime(delay);
    }
    expect(sockets).toHaveLength(4);
    last().open();
    last().replayed(0);
    vi.advanceTimersByTime(6000);
    last().drop();
    vi.advanceTimersByTime(500);
    expect(sockets).toHaveLength(5);
  });

  it("reconnectNow skips the wait", () => {
    const { stream, sockets, last } = setup({ random: () => 0.99 });
    stream.start();
    last().drop();
    expect(sockets).toHaveLength(1);
    stream.reconnectNow();
    expect(sockets).toHaveLength(2);
  });

  it("stops with the error when the probe says the task or the token is bad", async () => {
    const probe = vi.fn(async () => {
      throw new TetherError(401, "unauthorized", "token expired");
    });
    const { stream, sockets, last } = setup({ probe });
    const errors: TetherError[] = [];
    stream.on("error", (e) => errors.push(e));
    stream.start();
    last().drop();
    await vi.runAllTimersAsync();
    expect(probe).toHaveBeenCalledTimes(1);
    expect(stream.state).toBe("closed");
    expect(stream.error?.code).toBe("unauthorized");
    expect(sockets).toHaveLength(1);
  });

  it("keeps trying when the probe fails for a reason that may pass", async () => {
    const probe = vi.fn(async () => {
      throw new TetherError(0, "network", "no route");
    });
    const { stream, sockets, last } = setup({ probe });
    stream.start();
    last().drop();
    await vi.advanceTimersByTimeAsync(1000);
    expect(sockets).toHaveLength(2);
    expect(stream.state).toBe("reconnecting");
  });

  it("pings an open socket and takes a silent one for dead", () => {
    const { stream, sockets, last } = setup({ pingIntervalMs: 1000 });
    stream.start();
    last().open();
    last().replayed(0);
    vi.advanceTimersByTime(1000);
    expect(sockets[0]!.sent).toEqual([PING_TEXT]);
    last().frame({ type: "pong" });
    vi.advanceTimersByTime(1000);
    expect(stream.state).toBe("live");
    vi.advanceTimersByTime(1000);
    expect(stream.state).toBe("reconnecting");
    expect(sockets[0]!.closed).toBe(true);
  });

  it("drops a socket that answers pings but never says replayed, and goes live on the next", () => {
    const { stream, sockets, last } = setup({ pingIntervalMs: 1000 });
    stream.start();
    last().open();
    last().frame({ type: "event", event: ev(1) });
    vi.advanceTimersByTime(1000);
    last().frame({ type: "pong" });
    vi.advanceTimersByTime(1000);
    expect(sockets).toHaveLength(1);
    last().frame({ type: "pong" });
    vi.advanceTimersByTime(1000);
    expect(sockets[0]!.closed).toBe(true);
    expect(stream.state).toBe("reconnecting");
    vi.advanceTimersToNextTimer();
    expect(sockets).toHaveLength(2);
    expect(last().url).toContain("after=1");
    last().open();
    last().replayed(1);
    expect(stream.state).toBe("live");
  });

  it("ends by itself when a finished task's socket closes", () => {
    const { stream, sockets, last } = setup();
    stream.start();
    last().open();
    last().frame({ type: "event", event: { seq: 1, ts: "t", type: "status", data: { status: "succeeded" } } });
    last().replayed(1, "succeeded");
    last().drop();
    vi.advanceTimersByTime(70_000);
    expect(stream.state).toBe("closed");
    expect(stream.error).toBeNull();
    expect(sockets).toHaveLength(1);
  });

  it("types known events, passes unknown ones aside, and ignores frames that are not protocol", () => {
    const { stream, last } = setup();
    const known: KnownEvent[] = [];
    const unknown: Event[] = [];
    stream.on("events", (e) => known.push(...e));
    stream.on("unknown", (e) => unknown.push(e));
    stream.start();
    last().open();
    last().frame("not json");
    last().frame({ type: "mystery" });
    last().frame({
      type: "events",
      events: [
        { seq: 1, ts: "t", type: "agent.text.delta", data: { turn: 0, text: "Hel" } },
        { seq: 2, ts: "t", type: "future.thing", data: {} },
        { seq: 3, ts: "t", type: "agent.text.delta", data: { turn: "bad" } },
        { seq: 4, ts: "t", type: "status", data: { status: "waiting" } },
      ],
    });
    expect(known.map((e) => e.seq)).toEqual([1, 4]);
    expect(unknown.map((e) => e.seq)).toEqual([2, 3]);
    expect(stream.lastSeq).toBe(4);
    expect(stream.status).toBe("waiting");
    const first = known[0]!;
    expect(first.type === "agent.text.delta" ? first.data.text : null).toBe("Hel");
  });

  it("with the light shape checks, passes aside an event of a type it does not know and ignores frames that are not protocol", () => {
    const { stream, last } = setup({ checks: SHAPE_CHECKS });
    const known: KnownEvent[] = [];
    const unknown: Event[] = [];
    stream.on("events", (e) => known.push(...e));
    stream.on("unknown", (e) => unknown.push(e));
    stream.start();
    last().open();
    last().frame({ type: "mystery" });
    last().frame({ type: "events", events: [{ seq: 1, ts: "t", type: "log" }] });
    last().frame({
      type: "events",
      events: [
        { seq: 1, ts: "t", type: "agent.text.delta", data: { turn: 0, text: "Hel" } },
        { seq: 2, ts: "t", type: "future.thing", data: {} },
        { seq: 3, ts: "t", type: "status", data: { status: "waiting" } },
      ],
    });
    expect(known.map((e) => e.seq)).toEqual([1, 3]);
    expect(unknown.map((e) => e.seq)).toEqual([2]);
    expect(stream.status).toBe("waiting");
    last().frame({ type: "replayed", lastSeq: 3, status: "waiting" });
    expect(stream.state).toBe("live");
  });

  it("closes for good on an unauthorized error frame, and close() stops every retry", () => {
    const a = setup();
    a.stream.start();
    a.last().open();
    a.last().frame({ type: "error", code: "unauthorized", message: "bad token" });
    expect(a.stream.state).toBe("closed");
    expect(a.stream.error?.message).toBe("bad token");

    const b = setup();
    b.stream.start();
    b.last().drop();
    b.stream.close();
    vi.advanceTimersByTime(70_000);
    expect(b.sockets).toHaveLength(1);
    expect(b.stream.state).toBe("closed");
  });
});
