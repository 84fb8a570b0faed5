import pino from "pino";
import { describe, expect, it } from "vitest";
import type { EventData, RunnerEventBody } from "../../shared/events.ts";
import { parseFrame, WorkerToRunner } from "../../shared/protocol.ts";
import type { ExitInfo } from "../ports.ts";
import { WorkerOutput } from "./worker-output.ts";

const log = pino({ level: "silent" });

function setUp(lastWseq = 0, recovering = false, running = true) {
  const seen = { emitted: [] as { bodies: RunnerEventBody[]; wseq?: number }[], done: [] as EventData<"done">[], exits: [] as ExitInfo[], turnEnds: 0 };
  const output = new WorkerOutput(
    {
      emit: (bodies, opts) => seen.emitted.push({ bodies, wseq: opts?.wseq }),
      turnEnded: () => ((seen.turnEnds += 1), running),
      done: (data) => seen.done.push(data),
      exited: (info) => seen.exits.push(info),
    },
    lastWseq,
    recovering,
    log,
  );
  const line = (raw: string) => output.sink.line(parseFrame(WorkerToRunner, raw, 128 * 1024), raw);
  const event = (wseq: number, type: string, data: unknown) => line(JSON.stringify({ wseq, type, data }));
  const types = () => seen.emitted.flatMap((e) => e.bodies.map((b) => b.type));
  return { output, seen, line, event, types };
}

describe("WorkerOutput", () => {
  it("turns each new line into events with its wseq, once, and drops the worker's own usage", () => {
    const { output, seen, event, types } = setUp(2);
    event(2, "agent.text", { turn: 0, text: "old" });
    event(3, "agent.text", { turn: 0, text: "new" });
    event(3, "agent.text", { turn: 0, text: "again" });
    event(4, "usage", { model: "m", inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0 });
    expect(types()).toEqual(["agent.text"]);
    expect(seen.emitted.map((e) => e.wseq)).toEqual([3, 4]);
    expect(output.lastWseq).toBe(4);
  });

  it("adds the waiting status to a turn's end only when the task was running, and hands on done", () => {
    const running = setUp(0, false, true);
    running.event(1, "turn.end", { turn: 0, stopReason: "end_turn" });
    expect(running.types()).toEqual(["turn.end", "status"]);
    const idle = setUp(0, false, false);
    idle.event(1, "turn.end", { turn: 0, stopReason: "end_turn" });
    idle.event(2, "done", { ok: true, summary: "ok" });
    expect(idle.types()).toEqual(["turn.end", "done"]);
    expect(idle.seen.done).toEqual([{ ok: true, summary: "ok" }]);
  });

  it("holds a recovered worker's output until release, and drops bad lines and stderr of its replay", () => {
    const { output, seen, line, event, types } = setUp(1, true);
    line("not json");
    output.sink.stderr("replayed noise");
    event(1, "agent.text", { turn: 0, text: "seen before" });
    event(2, "agent.text", { turn: 0, text: "new" });
    output.sink.exit({ exitCode: 0, reason: "exited", message: "exited with code 0" });
    expect(seen.emitted).toEqual([]);
    output.release(true);
    expect(types()).toEqual(["agent.text"]);
    expect(seen.exits).toHaveLength(1);
    line("bad after the replay");
    output.sink.stderr("real trouble");
    expect(types()).toEqual(["agent.text", "error", "log"]);
  });

  it("ignores lines and stderr once muted but still reports the exit; after detach nothing reaches the run", () => {
    const muted = setUp();
    muted.output.mute();
    muted.event(1, "agent.text", { turn: 0, text: "too late" });
    muted.output.sink.stderr("too late");
    muted.output.sink.exit({ exitCode: 143, reason: "killed", message: "stopped" });
    expect(muted.seen.emitted).toEqual([]);
    expect(muted.seen.exits).toHaveLength(1);
    const detached = setUp();
    detached.output.detach();
    detached.event(1, "agent.text", { turn: 0, text: "the next runner's" });
    detached.output.sink.exit({ exitCode: 0, reason: "exited", message: "exited" });
    expect(detached.seen.emitted).toEqual([]);
    expect(detached.seen.exits).toEqual([]);
  });
});
