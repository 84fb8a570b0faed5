import { existsSync } from "node:fs";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEventBody } from "../../shared/events.ts";
import type { TaskMode } from "../../shared/approvals.ts";
import { startFakeModel, type FakeModel, type ScriptStep } from "../../test/fake-model/index.ts";
import { Agent } from "./agent.ts";
import { PLANNING_NOTE } from "./approvals.ts";
import { EventsWriter } from "./events-writer.ts";

let dir: string;
let model: FakeModel;
beforeEach(async () => {
  dir = await realpath(await mkdtemp(join(tmpdir(), "approvals-")));
});
afterEach(async () => {
  await model.close();
  await rm(dir, { recursive: true, force: true });
});

type Question = { approvalID: string; kind: string; subject: string };

/** A writer that keeps the events and hands each question to the test as it goes out. */
class AskingWriter extends EventsWriter {
  readonly events: AgentEventBody[] = [];
  private readonly questions: Question[] = [];
  private waiter: ((q: Question) => void) | undefined;
  override emit(event: AgentEventBody): void {
    this.events.push(event);
    super.emit(event);
    if (event.type !== "approval.requested") return;
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) waiter(event.data);
    else this.questions.push(event.data);
  }
  nextQuestion(): Promise<Question> {
    const q = this.questions.shift();
    return q ? Promise.resolve(q) : new Promise((resolve) => (this.waiter = resolve));
  }
}

async function startAgent(mode: TaskMode, script: ScriptStep[]) {
  model = await startFakeModel({ script, listen: { socketPath: join(dir, "m.sock") } });
  const writer = new AskingWriter(new PassThrough().resume());
  const agent = new Agent({ workspace: dir, stateDir: join(dir, "state"), writer, commandTimeoutMs: 10_000 });
  agent.handle({ type: "start", task: { taskID: "t", prompt: "Make the files", mode, limits: {}, repo: { url: "/r" } }, proxy: { socketPath: join(dir, "m.sock"), token: "x" }, resume: false, lastWseq: 0 });
  return { agent, writer };
}

const bash = (id: string, command: string): ScriptStep => ({ reply: { content: [{ type: "tool_use", id, name: "bash", input: { command } }] } });
const create = (id: string, path: string): ScriptStep => ({ reply: { content: [{ type: "tool_use", id, name: "str_replace_based_edit_tool", input: { command: "create", path, file_text: "x\n" } }] } });
const answer = (text: string): ScriptStep => ({ reply: { content: [{ type: "text", text }], stop_reason: "end_turn" } });
const toolEnds = (writer: AskingWriter) => writer.events.filter((e) => e.type === "tool.end").map((e) => (e.data as { summary: string }).summary);

describe("worker approvals with the stand-in model", () => {
  it("ask: each command and each write waits for its answer; a no is not run and the model reads why", async () => {
    const { agent, writer } = await startAgent("ask", [bash("toolu_1", "touch declined.txt"), create("toolu_2", "approved.txt"), answer("Done.")]);
    const first = await writer.nextQuestion();
    expect(first).toMatchObject({ kind: "command", subject: "touch declined.txt" });
    // Nothing runs while the question is open: the model has had one call.
    expect(model.requests).toHaveLength(1);
    agent.handle({ type: "approval", approvalID: first.approvalID, approved: false });
    const second = await writer.nextQuestion();
    expect(second).toMatchObject({ kind: "write", subject: "approved.txt" });
    agent.handle({ type: "approval", approvalID: "not-asked", approved: true });
    agent.handle({ type: "approval", approvalID: second.approvalID, approved: true });
    agent.endOfInput();
    expect(await agent.exited).toBe(0);
    expect(existsSync(join(dir, "declined.txt"))).toBe(false);
    expect(existsSync(join(dir, "approved.txt"))).toBe(true);
    expect(toolEnds(writer)[0]).toBe("declined by the owner");
    expect(JSON.stringify(model.requests[1]!.body.messages)).toContain("your owner declined this command");
  });

  it("auto: nothing asks", async () => {
    const { agent, writer } = await startAgent("auto", [bash("toolu_1", "touch ran.txt"), answer("Done.")]);
    agent.endOfInput();
    expect(await agent.exited).toBe(0);
    expect(existsSync(join(dir, "ran.txt"))).toBe(true);
    expect(writer.events.some((e) => e.type === "approval.requested")).toBe(false);
  });

  it("plan: the first turn only reads and proposes; the edited plan comes back as the instruction of the next turn", async () => {
    const { agent, writer } = await startAgent("plan", [bash("toolu_1", "touch early.txt"), answer("1. create plan.txt"), create("toolu_2", "plan.txt"), answer("Created plan.txt.")]);
    const plan = await writer.nextQuestion();
    expect(plan).toMatchObject({ kind: "plan", subject: "1. create plan.txt" });
    expect(existsSync(join(dir, "early.txt"))).toBe(false);
    expect(toolEnds(writer)[0]).toBe("not run: planning turn");
    expect(JSON.stringify(model.requests[0]!.body.system)).toContain(PLANNING_NOTE);
    // The plan turn does not end as a turn: the task is not waiting for a follow-up.
    expect(writer.events.some((e) => e.type === "turn.end")).toBe(false);
    agent.handle({ type: "approval", approvalID: plan.approvalID, approved: true, text: "1. create plan.txt and nothing else" });
    agent.endOfInput();
    expect(await agent.exited).toBe(0);
    expect(existsSync(join(dir, "plan.txt"))).toBe(true);
    expect(JSON.stringify(model.requests[2]!.body.messages)).toContain("Carry out this plan now:\\n\\n1. create plan.txt and nothing else");
    expect(JSON.stringify(model.requests[2]!.body.system)).not.toContain(PLANNING_NOTE);
    expect(writer.events.filter((e) => e.type === "turn.end").map((e) => (e.data as { turn: number }).turn)).toEqual([1]);
  });

  it("plan: a rejected plan runs nothing more and the cancel that follows ends the worker", async () => {
    const { agent, writer } = await startAgent("plan", [answer("1. delete everything")]);
    const plan = await writer.nextQuestion();
    agent.handle({ type: "approval", approvalID: plan.approvalID, approved: false });
    agent.handle({ type: "cancel" });
    expect(await agent.exited).toBe(130);
    expect(model.requests).toHaveLength(1);
  });

  it("a cancel ends a wait for an answer", async () => {
    const { agent, writer } = await startAgent("ask", [bash("toolu_1", "touch never.txt")]);
    await writer.nextQuestion();
    agent.handle({ type: "cancel" });
    expect(await agent.exited).toBe(130);
    expect(existsSync(join(dir, "never.txt"))).toBe(false);
  });
});
