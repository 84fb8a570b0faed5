import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { LIMITS } from "./limits.ts";
import {
  EdgeToRunnerControl,
  EdgeToRunnerData,
  EdgeToViewer,
  RunnerToEdgeControl,
  RunnerToEdgeData,
  RunnerToWorker,
  ViewerToEdge,
  WorkerToRunner,
  parseFrame,
} from "./protocol.ts";
import { CLOSE_ABNORMAL, CLOSE_NO_STATUS, CloseCode, PING_TEXT, PONG_TEXT, answerCloseCode } from "./sockets.ts";
import { CreateTaskRequest, newTaskRecord } from "./task.ts";

const task = newTaskRecord("tsk_0123456789abcdef0123", { repo: { url: "https://example.com/r.git" }, prompt: "fix it" }, "u1");
const event = { seq: 1, ts: "2026-01-01T00:00:00Z", type: "log", data: { level: "info", message: "m" } };
const runnerEvent = { rseq: 1, ts: "2026-01-01T00:00:00Z", type: "log", data: { level: "info", message: "m" } };

/** One good frame of each type, per socket and direction. */
const FRAMES = {
  viewerUp: [{ type: "message", text: "go on" }, { type: "finish" }, { type: "cancel" }, { type: "ping" }],
  viewerDown: [
    { type: "event", event },
    { type: "events", events: [event] },
    { type: "replayed", lastSeq: 1, status: "running" },
    { type: "pong" },
    { type: "error", code: "invalid_frame", message: "m" },
  ],
  controlUp: [
    { type: "hello", version: "1", labels: [], capacity: 1, tasks: [{ taskID: "t", epoch: 1 }] },
    { type: "hello", version: "1", labels: [], capacity: 1, tasks: [], draining: "the journal's disk is full (SQLITE_FULL)" },
    { type: "heartbeat", tasks: [] },
    { type: "accept", taskID: "t", epoch: 1 },
    { type: "reject", taskID: "t", epoch: 1, reason: "full" },
    { type: "ping" },
  ],
  controlDown: [
    { type: "welcome", runnerID: "r", heartbeatSeconds: 20, leaseSeconds: 90 },
    { type: "assign", assignment: { task, epoch: 1, leaseSeconds: 90 } },
    { type: "revoke", taskID: "t", epoch: 1, reason: "gone" },
    { type: "pong" },
    { type: "error", code: "invalid_frame", message: "m" },
  ],
  dataUp: [
    { type: "attach", taskID: "t", epoch: 1, afterCommandSeq: 0 },
    { type: "events", taskID: "t", epoch: 1, events: [runnerEvent] },
    { type: "ping" },
  ],
  dataDown: [
    { type: "attached", taskID: "t", epoch: 1, ackedRseq: 0, commands: [{ seq: 2, kind: "message", text: "more" }] },
    { type: "ack", taskID: "t", epoch: 1, rseq: 1 },
    { type: "command", taskID: "t", command: { seq: 3, kind: "finish" } },
    { type: "pong" },
    { type: "error", code: "stale_epoch", message: "m", taskID: "t" },
  ],
} as const;
type Direction = keyof typeof FRAMES;

const UNIONS: [string, z.ZodType, Direction][] = [
  ["ViewerToEdge", ViewerToEdge, "viewerUp"],
  ["EdgeToViewer", EdgeToViewer, "viewerDown"],
  ["RunnerToEdgeControl", RunnerToEdgeControl, "controlUp"],
  ["EdgeToRunnerControl", EdgeToRunnerControl, "controlDown"],
  ["RunnerToEdgeData", RunnerToEdgeData, "dataUp"],
  ["EdgeToRunnerData", EdgeToRunnerData, "dataDown"],
];

/** Frames every socket shares, so no union refuses them as another socket's. */
const SHARED_TYPES = new Set(["ping", "pong", "error"]);

describe("one union per socket and direction", () => {
  for (const [name, schema, own] of UNIONS) {
    it(`${name} accepts each of its frames`, () => {
      for (const frame of FRAMES[own]) expect(schema.safeParse(frame).success, `${name} ${frame.type}`).toBe(true);
    });

    it(`${name} refuses the frames of every other socket and direction`, () => {
      const ownTypes = new Set(FRAMES[own].map((f) => f.type));
      for (const [other, frames] of Object.entries(FRAMES)) {
        if (other === own) continue;
        for (const frame of frames) {
          if (SHARED_TYPES.has(frame.type) || ownTypes.has(frame.type)) continue;
          expect(schema.safeParse(frame).success, `${name} took ${other} ${frame.type}`).toBe(false);
        }
      }
    });
  }

  it("refuses a data socket's events on the control socket and a control hello on the data socket", () => {
    expect(RunnerToEdgeControl.safeParse(FRAMES.dataUp[1]).success).toBe(false);
    expect(RunnerToEdgeData.safeParse(FRAMES.controlUp[0]).success).toBe(false);
    expect(EdgeToRunnerControl.safeParse(FRAMES.dataDown[1]).success).toBe(false);
    expect(EdgeToRunnerData.safeParse(FRAMES.controlDown[1]).success).toBe(false);
  });

  it("keeps a viewer's message and a runner's frames apart", () => {
    expect(ViewerToEdge.safeParse(FRAMES.dataUp[0]).success).toBe(false);
    expect(RunnerToEdgeData.safeParse(FRAMES.viewerUp[0]).success).toBe(false);
  });

  it("reads the ping and pong texts as frames of every socket", () => {
    for (const schema of [ViewerToEdge, RunnerToEdgeControl, RunnerToEdgeData]) expect(parseFrame(schema, PING_TEXT, 100).ok).toBe(true);
    for (const schema of [EdgeToViewer, EdgeToRunnerControl, EdgeToRunnerData]) expect(parseFrame(schema, PONG_TEXT, 100).ok).toBe(true);
  });
});

describe("parseFrame", () => {
  it("accepts a good viewer frame, with or without a version", () => {
    expect(parseFrame(ViewerToEdge, '{"type":"message","text":"go on"}', 1000)).toEqual({
      ok: true,
      value: { type: "message", text: "go on" },
    });
    expect(parseFrame(ViewerToEdge, '{"v":1,"type":"cancel"}', 1000).ok).toBe(true);
  });

  it("refuses bad frames with the fitting code", () => {
    const code = (raw: string, max = 1000) => {
      const r = parseFrame(ViewerToEdge, raw, max);
      return r.ok ? "ok" : r.error.code;
    };
    expect(code("not json")).toBe("invalid_frame");
    expect(code('{"type":"nope"}')).toBe("invalid_frame");
    expect(code('{"type":"message","text":""}')).toBe("invalid_frame");
    expect(code('{"v":2,"type":"cancel"}')).toBe("unsupported_version");
    expect(code(`{"type":"message","text":"${"x".repeat(2000)}"}`)).toBe("payload_too_large");
  });

  it("bounds a text frame by its UTF-8 bytes, not its characters", () => {
    // 300 three-byte characters and 28 one-byte ones: 328 characters, 928 bytes.
    const text = `{"type":"message","text":"${"€".repeat(300)}"}`;
    const refused = parseFrame(ViewerToEdge, text, 927);
    expect(refused).toMatchObject({ ok: false, error: { code: "payload_too_large", message: "frame of 928 bytes is over the 927 byte limit" } });
    expect(parseFrame(ViewerToEdge, text, 928).ok).toBe(true);
    expect(parseFrame(ViewerToEdge, new TextEncoder().encode(text), 927).ok).toBe(false);
  });
});

describe("RunnerToEdgeControl", () => {
  it("takes a hello's reason for taking no tasks only as 1 to 500 characters", () => {
    const hello = (draining: unknown) => RunnerToEdgeControl.safeParse({ type: "hello", version: "1", labels: [], capacity: 1, tasks: [], draining }).success;
    expect(hello("the journal's disk is full (SQLITE_FULL)")).toBe(true);
    expect(hello(undefined)).toBe(true);
    expect(hello("")).toBe(false);
    expect(hello("x".repeat(501))).toBe(false);
    expect(hello(true)).toBe(false);
  });
});

describe("RunnerToEdgeData", () => {
  it("checks each event's data against its type", () => {
    const batch = (data: unknown) =>
      RunnerToEdgeData.safeParse({
        type: "events",
        taskID: "t1",
        epoch: 1,
        events: [{ rseq: 1, ts: "2026-01-01T00:00:00Z", type: "agent.text", data }],
      }).success;
    expect(batch({ turn: 0, text: "hi" })).toBe(true);
    expect(batch({ turn: "zero", text: "hi" })).toBe(false);
  });

  it("refuses user events from a runner and oversized batches", () => {
    const events = (n: number, type = "log") =>
      Array.from({ length: n }, (_, i) => ({ rseq: i + 1, ts: "t", type, data: { level: "info", message: "m" } }));
    expect(RunnerToEdgeData.safeParse({ type: "events", taskID: "t", epoch: 1, events: events(1) }).success).toBe(true);
    expect(
      RunnerToEdgeData.safeParse({ type: "events", taskID: "t", epoch: 1, events: [{ rseq: 1, ts: "t", type: "user.cancel", data: { by: "x" } }] }).success,
    ).toBe(false);
    expect(RunnerToEdgeData.safeParse({ type: "events", taskID: "t", epoch: 1, events: events(LIMITS.maxEventsPerBatch + 1) }).success).toBe(false);
  });

  it("carries the setup phase's and the egress proxy's events, checked, and never a user's allowance", () => {
    const one = (type: string, data: unknown) => RunnerToEdgeData.safeParse({ type: "events", taskID: "t", epoch: 1, events: [{ rseq: 1, ts: "t", type, data }] }).success;
    expect(one("setup.step", { step: 1, command: "npm ci", source: "request", state: "started" })).toBe(true);
    expect(one("setup.step", { step: 0, command: "npm ci", source: "request", state: "started" })).toBe(false);
    expect(one("setup.output", { step: 1, stream: "stdout", text: "added 1 package" })).toBe(true);
    expect(one("setup.done", { ok: true, cache: "hit", durationMs: 12, savedMs: 3400 })).toBe(true);
    expect(one("setup.done", { ok: true, cache: "maybe", durationMs: 12 })).toBe(false);
    expect(one("egress", { phase: "agent", host: "registry.test", port: 443, allowed: false, bytes: 0, reason: "not allowed" })).toBe(true);
    expect(one("egress", { phase: "later", host: "registry.test", port: 443, allowed: false, bytes: 0 })).toBe(false);
    expect(one("user.egress", { host: "registry.test", by: "u" })).toBe(false);
  });
});

describe("EdgeToRunnerData commands", () => {
  it("carries an egress allowance with its host", () => {
    const command = (c: unknown) => EdgeToRunnerData.safeParse({ type: "command", taskID: "t", command: c }).success;
    expect(command({ seq: 3, kind: "egress.allow", host: "registry.test:4873" })).toBe(true);
    expect(command({ seq: 3, kind: "egress.allow" })).toBe(false);
    expect(command({ seq: 3, kind: "egress.allow", host: "" })).toBe(false);
  });
});

describe("worker lines", () => {
  it("accepts an agent event with its sequence number and refuses edge-only types", () => {
    expect(WorkerToRunner.safeParse({ wseq: 1, type: "done", data: { ok: true, summary: "fixed" } }).success).toBe(true);
    expect(WorkerToRunner.safeParse({ wseq: 0, type: "done", data: { ok: true, summary: "fixed" } }).success).toBe(false);
    expect(WorkerToRunner.safeParse({ wseq: 2, type: "status", data: { status: "running" } }).success).toBe(false);
  });

  it("fills the start line's defaults", () => {
    const start = RunnerToWorker.parse({ type: "start", task: { taskID: "t", prompt: "p", limits: {}, repo: { url: "/r" } }, proxy: { socketPath: "/run/tether/model.sock", token: "t" } });
    expect(start).toMatchObject({ resume: false, lastWseq: 0 });
  });
});

describe("CreateTaskRequest", () => {
  it("takes a setup script, and refuses an empty or oversized one", () => {
    const withSetup = (setup: unknown) => CreateTaskRequest.safeParse({ repo: { url: "https://example.com/r.git" }, prompt: "fix", setup }).success;
    expect(withSetup("npm ci")).toBe(true);
    expect(withSetup("  ")).toBe(false);
    expect(withSetup("x".repeat(LIMITS.maxSetupChars + 1))).toBe(false);
  });

  it("takes the public body and refuses unknown fields and bad limits", () => {
    expect(CreateTaskRequest.safeParse({ repo: { url: "https://example.com/r.git" }, prompt: "fix it" }).success).toBe(true);
    expect(CreateTaskRequest.safeParse({ repo: { url: "https://example.com/r.git" }, prompt: "fix", extra: 1 }).success).toBe(false);
    expect(CreateTaskRequest.safeParse({ repo: { url: "https://example.com/r.git" }, prompt: "  " }).success).toBe(false);
    expect(CreateTaskRequest.safeParse({ repo: { url: "ftp://x" }, prompt: "fix" }).success).toBe(false);
    expect(CreateTaskRequest.safeParse({ repo: { url: "/srv/r" }, prompt: "fix", limits: { maxTurns: 0 } }).success).toBe(false);
  });

  it("takes branch, tag and commit refs, and refuses refs git would read as an option or refspec", () => {
    const withRef = (ref: string) => CreateTaskRequest.safeParse({ repo: { url: "https://example.com/r.git", ref }, prompt: "fix" }).success;
    for (const ref of ["main", "feature/x-1", "v1.2.3", "release@2024", "0123abcd", "c++"]) expect(withRef(ref), ref).toBe(true);
    for (const ref of ["--upload-pack=touch /tmp/x", "-f", "main:refs/heads/x", "a..b", "has space", "HEAD~1"]) expect(withRef(ref), ref).toBe(false);
  });
});

describe("answerCloseCode", () => {
  it("echoes a code that may be sent and answers Normal for one that may not", () => {
    expect(answerCloseCode(CloseCode.Replaced)).toBe(CloseCode.Replaced);
    expect(answerCloseCode(CLOSE_NO_STATUS)).toBe(CloseCode.Normal);
    expect(answerCloseCode(CLOSE_ABNORMAL)).toBe(CloseCode.Normal);
    expect(answerCloseCode(999)).toBe(CloseCode.Normal);
  });
});
