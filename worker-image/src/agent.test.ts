import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEventBody } from "../../shared/events.ts";
import { startFakeModel, type FakeModel } from "../../test/fake-model/index.ts";
import { Agent } from "./agent.ts";
import { EventsWriter } from "./events-writer.ts";

let dir: string;
let model: FakeModel;
beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "agent-")));
  model = await startFakeModel({ script: () => ({ reply: { content: [{ type: "text", text: "hi" }] } }), listen: { socketPath: join(dir, "m.sock") } });
});
afterEach(async () => {
  await model.close();
  await rm(dir, { recursive: true, force: true });
});

/** A writer that lets a test act when a given event goes out. */
class HookedWriter extends EventsWriter {
  readonly types: string[] = [];
  onEmit: (event: AgentEventBody) => void = () => {};
  override emit(event: AgentEventBody): void {
    this.types.push(event.type);
    super.emit(event);
    this.onEmit(event);
  }
}

const start = (socketPath: string) =>
  ({ type: "start", task: { taskID: "t", prompt: "p", limits: {}, repo: { url: "/r" } }, proxy: { socketPath, token: "x" }, resume: false, lastWseq: 0 }) as const;

describe("Agent", () => {
  it("does not lose a cancel that comes as the turn ends", async () => {
    const writer = new HookedWriter(new PassThrough().resume());
    const agent = new Agent({ workspace: dir, stateDir: join(dir, "state"), writer, commandTimeoutMs: 1000 });
    writer.onEmit = (event) => {
      if (event.type === "turn.end") agent.handle({ type: "cancel" });
    };
    agent.handle(start(join(dir, "m.sock")));
    expect(await agent.exited).toBe(130);
    expect(writer.types.slice(-2)).toEqual(["turn.end", "done"]);
  });

  it("runs a message that came during the turn right after it", async () => {
    const writer = new HookedWriter(new PassThrough().resume());
    const agent = new Agent({ workspace: dir, stateDir: join(dir, "state"), writer, commandTimeoutMs: 1000 });
    agent.handle(start(join(dir, "m.sock")));
    agent.handle({ type: "message", text: "and more" });
    agent.endOfInput();
    expect(await agent.exited).toBe(0);
    expect(writer.types.filter((t) => t === "turn.end")).toHaveLength(2);
    expect(model.requests).toHaveLength(2);
    expect(JSON.stringify(model.requests[1]!.body.messages)).toContain("and more");
  });
});
