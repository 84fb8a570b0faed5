import { describe, expect, it } from "vitest";
import { LIMITS } from "./limits.ts";
import { PhoneToEdge, RunnerToEdge, RunnerToWorker, WorkerToRunner, parseFrame } from "./protocol.ts";
import { CreateTaskRequest } from "./task.ts";

describe("parseFrame", () => {
  it("accepts a good phone frame, with or without a version", () => {
    expect(parseFrame(PhoneToEdge, '{"type":"message","text":"go on"}', 1000)).toEqual({
      ok: true,
      value: { type: "message", text: "go on" },
    });
    expect(parseFrame(PhoneToEdge, '{"v":1,"type":"cancel"}', 1000).ok).toBe(true);
  });

  it("refuses bad frames with the fitting code", () => {
    const code = (raw: string, max = 1000) => {
      const r = parseFrame(PhoneToEdge, raw, max);
      return r.ok ? "ok" : r.error.code;
    };
    expect(code("not json")).toBe("invalid_frame");
    expect(code('{"type":"nope"}')).toBe("invalid_frame");
    expect(code('{"type":"message","text":""}')).toBe("invalid_frame");
    expect(code('{"v":2,"type":"cancel"}')).toBe("unsupported_version");
    expect(code(`{"type":"message","text":"${"x".repeat(2000)}"}`)).toBe("payload_too_large");
  });
});

describe("RunnerToEdge", () => {
  it("checks each event's data against its type", () => {
    const batch = (data: unknown) =>
      RunnerToEdge.safeParse({
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
    expect(RunnerToEdge.safeParse({ type: "events", taskID: "t", epoch: 1, events: events(1) }).success).toBe(true);
    expect(
      RunnerToEdge.safeParse({ type: "events", taskID: "t", epoch: 1, events: [{ rseq: 1, ts: "t", type: "user.cancel", data: { by: "x" } }] }).success,
    ).toBe(false);
    expect(RunnerToEdge.safeParse({ type: "events", taskID: "t", epoch: 1, events: events(LIMITS.maxEventsPerBatch + 1) }).success).toBe(false);
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
