/**
 * The agent as a plain Node process (the bundled dist file) against the stand-in model on a
 * unix socket, working on a small repository with a failing test.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bundleAgent } from "../worker-image/bundle.ts";
import { keyOf, startFakeModel, type FakeModel, type Script } from "./fake-model/index.ts";
import { createFixtureRepo, FIX_NOTE, FIX_REASONING, FIX_SUMMARY, fixTheFailingTestScript, followUpScript } from "./fake-model/scripts.ts";
import { makeTaskDirs, startAgent, startLine, typeSequence, type AgentProcess, type TaskDirs } from "./worker-harness.ts";

let bundle: string;
let bundleDir: TaskDirs;
beforeAll(async () => {
  bundleDir = await makeTaskDirs();
  bundle = await bundleAgent(join(bundleDir.base, "agent.mjs"));
});
afterAll(() => rm(bundleDir.base, { recursive: true, force: true }));

let dirs: TaskDirs;
let model: FakeModel | undefined;
let agent: AgentProcess | undefined;
afterEach(async () => {
  if (agent && agent.child.exitCode === null) agent.child.kill("SIGKILL");
  await model?.close();
  await rm(dirs.base, { recursive: true, force: true });
  agent = undefined;
  model = undefined;
});

async function setUp(script: Script): Promise<void> {
  dirs = await makeTaskDirs();
  await createFixtureRepo(dirs.workspace, { git: true });
  model = await startFakeModel({ script, listen: { socketPath: join(dirs.proxyDir, "model.sock") }, apiKey: "task-token-1" });
}

function run(): AgentProcess {
  agent = startAgent([process.execPath, bundle], { TETHER_WORKSPACE: dirs.workspace, TETHER_STATE_DIR: dirs.stateDir });
  return agent;
}

const socket = () => join(dirs.proxyDir, "model.sock");

describe("worker agent process", () => {
  it("fixes the failing test: lists, reads, runs, edits, runs again, answers, then ends on EOF", async () => {
    await setUp([...fixTheFailingTestScript()]);
    const a = run();
    a.send(startLine({ socketPath: socket(), lastWseq: 10 }));
    await a.waitFor((e) => e.type === "turn.end");
    expect(await readFile(join(dirs.workspace, "math.js"), "utf8")).toContain("return a + b;");

    const sequence = typeSequence(a.events);
    // Text between tool calls comes back as thinking: it shows as reasoning, not as the agent's words.
    expect(sequence).toEqual([
      ...["agent.thinking", "agent.thinking", "usage", "tool.start", "tool.end"],
      ...["usage", "tool.start", "tool.end"],
      ...["usage", "tool.start", "tool.output", "tool.end"],
      ...["agent.thinking", "usage", "tool.start", "file.changed", "tool.end"],
      ...["usage", "tool.start", "tool.output", "tool.end"],
      ...["agent.text.delta", "agent.thinking", "agent.text", "usage", "turn.end"],
    ]);
    expect(a.events.filter((e) => e.type === "agent.thinking").map((e) => e.data)).toEqual([
      { turn: 0, text: FIX_REASONING },
      { turn: 0, text: "Let me look at the repository." },
      { turn: 0, text: FIX_NOTE },
      { turn: 0, text: "The test passes now." },
    ]);
    expect(a.events.map((e) => e.wseq)).toEqual(a.events.map((_, i) => 11 + i));
    expect(a.badLines).toEqual([]);

    const ends = a.events.filter((e) => e.type === "tool.end").map((e) => e.data);
    expect(ends.map((d) => [d.callID, d.ok, d.exitCode ?? null])).toEqual([
      ["toolu_list", true, null],
      ["toolu_view", true, null],
      ["toolu_test1", false, 1],
      ["toolu_edit", true, null],
      ["toolu_test2", true, 0],
    ]);
    const start = a.events.find((e) => e.type === "tool.start" && e.data.callID === "toolu_edit");
    expect(start?.data).toMatchObject({ name: "str_replace_based_edit_tool", input: { command: "str_replace", path: "math.js" } });
    expect(a.events.find((e) => e.type === "file.changed")?.data).toEqual({ path: "math.js", change: "modified" });
    const output = a.events.filter((e) => e.type === "tool.output" && e.data.callID === "toolu_test2").map((e) => (e.data as { text: string }).text).join("");
    expect(output).toContain("ok: add(2, 3) is 5");
    expect(a.events.filter((e) => e.type === "agent.text").at(-1)?.data).toEqual({ turn: 0, text: FIX_SUMMARY });
    expect(a.events.filter((e) => e.type === "usage").at(-1)?.data).toMatchObject({ inputTokens: 900, outputTokens: 40, cacheReadTokens: 800, costUSD: null });
    expect(a.events.at(-1)?.data).toEqual({ turn: 0, stopReason: "end_turn" });

    // What the model saw: the token, the tools, caching, and real tool results.
    const requests = model!.requests;
    expect(requests).toHaveLength(6);
    expect(requests.every((r) => keyOf(r.headers) === "task-token-1" && r.body.stream === true)).toBe(true);
    const first = requests[0]!.body as { model: string; system: { cache_control?: unknown }[]; tools: { name: string; type?: string }[]; messages: { content: { cache_control?: unknown }[] }[] };
    expect(first.model).toBe("claude-sonnet-5-5");
    expect(requests.every((r) => JSON.stringify(r.body.thinking) === JSON.stringify({ type: "adaptive", display: "summarized" }))).toBe(true);
    expect(model!.rejected).toEqual([]);
    expect(first.system[0]?.cache_control).toEqual({ type: "ephemeral" });
    expect(first.tools.map((t) => t.type ?? t.name)).toEqual(["bash_20250124", "text_editor_20250728", "glob", "grep"]);
    expect(first.messages[0]?.content.at(-1)?.cache_control).toEqual({ type: "ephemeral" });
    const resultOf = (i: number) => JSON.stringify((requests[i]!.body.messages as unknown[]).at(-1));
    expect(resultOf(1)).toContain("math.js");
    expect(resultOf(1)).toContain("package.json");
    expect(resultOf(2)).toContain("return a - b;");
    expect(resultOf(3)).toContain("AssertionError");
    expect(resultOf(3)).toContain('"is_error":true');

    a.child.stdin.end();
    expect(await a.exit).toBe(0);
    expect(a.events.at(-1)).toMatchObject({ type: "done", data: { ok: true, summary: FIX_SUMMARY } });
    expect(a.badLines).toEqual([]);
  });

  it("runs a follow-up turn with the history kept", async () => {
    await setUp([...fixTheFailingTestScript(), ...followUpScript()]);
    const a = run();
    a.send(startLine({ socketPath: socket() }));
    await a.waitFor((e) => e.type === "turn.end");
    a.send({ type: "message", text: "Add a sub function too." });
    await a.waitFor((e) => e.type === "turn.end" && e.data.turn === 1);
    expect(await readFile(join(dirs.workspace, "sub.js"), "utf8")).toContain("return a - b;");
    expect(a.events.filter((e) => e.type === "file.changed").map((e) => e.data)).toContainEqual({ path: "sub.js", change: "created" });
    const followUp = model!.requests[6]!.body.messages as { role: string; content: unknown }[];
    expect(followUp[0]).toEqual({ role: "user", content: "The test fails. Fix it." });
    expect(followUp).toHaveLength(13);
    expect(JSON.stringify(followUp.at(-1))).toContain("Add a sub function too.");
    // Every thinking block of the first turn went back as it came, so the stand-in refused nothing.
    expect(model!.rejected).toEqual([]);
    expect(JSON.stringify(followUp)).toContain(FIX_REASONING);
    expect(followUp.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b: { type: string }) => b.type === "thinking")).toHaveLength(4);
    a.child.stdin.end();
    expect(await a.exit).toBe(0);
    expect(a.events.at(-1)).toMatchObject({ type: "done", data: { ok: true, summary: "Added sub.js." } });
  });

  it("cancels during a long command: kills it, reports, exits 130", async () => {
    const marker = `sleep ${60 + Math.round(Math.random() * 1000) / 1000}`;
    await setUp([{ reply: { content: [{ type: "tool_use", id: "toolu_long", name: "bash", input: { command: `echo started; ${marker}; echo never` } }] } }]);
    const a = run();
    a.send(startLine({ socketPath: socket() }));
    await a.waitFor((e) => e.type === "tool.output" && e.data.text.includes("started"));
    a.send({ type: "cancel" });
    expect(await a.exit).toBe(130);
    expect(a.events.find((e) => e.type === "tool.end")?.data).toMatchObject({ callID: "toolu_long", ok: false, summary: "cancelled" });
    expect(a.events.at(-1)).toMatchObject({ type: "done", data: { ok: false, summary: "cancelled" } });
    const alive = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ").includes(marker);
      } catch {
        return false;
      }
    });
    expect(alive).toBe(false);
    // The saved conversation stays valid: the interrupted call has its result.
    const saved = JSON.parse(await readFile(join(dirs.stateDir, "conversation.json"), "utf8"));
    expect(JSON.stringify(saved.messages.at(-1))).toContain("toolu_long");
  });

  it("retries a 429 and goes on; reports bad stdin lines and keeps going", async () => {
    await setUp([
      { error: { status: 429, type: "rate_limit_error", message: "slow down", retryAfterSeconds: 0 } },
      { reply: { content: [{ type: "text", text: "after a retry" }] } },
    ]);
    const a = run();
    a.send("this is not json");
    a.send({ type: "launch" } as never);
    a.send(startLine({ socketPath: socket() }));
    await a.waitFor((e) => e.type === "turn.end");
    expect(a.events.slice(0, 2).map((e) => [e.type, (e.data as { code?: string }).code])).toEqual([
      ["error", "invalid_frame"],
      ["error", "invalid_frame"],
    ]);
    expect(a.events.filter((e) => e.type === "error")).toHaveLength(2);
    expect(a.events.find((e) => e.type === "agent.text")?.data).toEqual({ turn: 0, text: "after a retry" });
    expect(model!.requests).toHaveLength(2);
    a.child.stdin.end();
    expect(await a.exit).toBe(0);
  });

  it("rides out a proxy that dies mid-answer and comes back on the same socket path (a runner restart)", async () => {
    await setUp([{ hangUp: { partialText: "I will fi" } }]);
    const a = run();
    a.send(startLine({ socketPath: socket() }));
    await a.waitFor((e) => e.type === "agent.text.delta");
    await model!.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "I will fix it." }] } }], listen: { socketPath: socket() }, apiKey: "task-token-1" });
    expect((await a.waitFor((e) => e.type === "turn.end", 20_000)).data).toEqual({ turn: 0, stopReason: "end_turn" });
    expect(a.events.filter((e) => e.type === "agent.text").map((e) => e.data)).toEqual([{ turn: 0, text: "I will fix it." }]);
    expect(a.events.some((e) => e.type === "error")).toBe(false);
    a.child.stdin.end();
    expect(await a.exit).toBe(0);
  });

  it("fails clearly on a malformed model answer: error event, done not ok, exit 1", async () => {
    await setUp([{ raw: { status: 200, contentType: "text/event-stream", body: 'event: message_start\ndata: {"type":"message_start","message":{oops\n\n' } }]);
    const a = run();
    a.send(startLine({ socketPath: socket() }));
    expect(await a.exit).toBe(1);
    const error = a.events.find((e) => e.type === "error");
    expect(error?.data.code).toBe("model_error");
    expect(error?.data.message).toMatch(/model/);
    expect(a.events.at(-1)).toMatchObject({ type: "done", data: { ok: false } });
  });

  it("waits when the proxy refuses the budget, and makes the same call again after budget.raised", async () => {
    // What runner/proxy/model-proxy.ts answers once a task's budget is spent.
    const refusal = { status: 400, type: "invalid_request_error", message: "Tether task budget exceeded: cost budget spent: $1.0012 of $1 used", headers: { "x-tether-budget-exceeded": "true" } };
    await setUp([{ reply: { content: [{ type: "tool_use", id: "toolu_1", name: "bash", input: { command: "true" } }] } }, { error: refusal }, { reply: { content: [{ type: "text", text: "went on" }] } }]);
    const a = run();
    a.send(startLine({ socketPath: socket() }));
    await a.waitFor((e) => e.type === "tool.end");
    const deadline = Date.now() + 20_000;
    while (model!.requests.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(model!.requests).toHaveLength(2);
    a.send({ type: "budget.raised" });
    expect((await a.waitFor((e) => e.type === "turn.end")).data).toEqual({ turn: 0, stopReason: "end_turn" });
    expect(model!.requests).toHaveLength(3);
    expect(model!.requests[2]!.body.messages).toEqual(model!.requests[1]!.body.messages);
    expect(a.events.some((e) => e.type === "error")).toBe(false);
    a.child.stdin.end();
    expect(await a.exit).toBe(0);
  });

  it("a cancel ends the wait at a refused budget", async () => {
    const refusal = { status: 400, type: "invalid_request_error", message: "Tether task budget exceeded: turn budget spent", headers: { "x-tether-budget-exceeded": "true" } };
    await setUp([{ error: refusal }]);
    const a = run();
    a.send(startLine({ socketPath: socket() }));
    const deadline = Date.now() + 20_000;
    while (model!.requests.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    a.send({ type: "cancel" });
    expect(await a.exit).toBe(130);
    expect(model!.requests).toHaveLength(1);
  });

  it("counts no model calls of its own: maxTurns is the proxy's", async () => {
    await setUp((_, i) => (i < 4 ? { reply: { content: [{ type: "tool_use", id: `toolu_${i}`, name: "bash", input: { command: "true" } }] } } : { reply: { content: [{ type: "text", text: "done" }] } }));
    const a = run();
    a.send(startLine({ socketPath: socket(), maxTurns: 3 }));
    expect((await a.waitFor((e) => e.type === "turn.end")).data).toEqual({ turn: 0, stopReason: "end_turn" });
    expect(model!.requests).toHaveLength(5);
    a.child.stdin.end();
    expect(await a.exit).toBe(0);
  });

  it("continues from the saved conversation in a new process", async () => {
    await setUp(fixTheFailingTestScript());
    const first = run();
    first.send(startLine({ socketPath: socket() }));
    await first.waitFor((e) => e.type === "turn.end");
    first.child.stdin.end();
    expect(await first.exit).toBe(0);
    const lastWseq = first.events.at(-1)!.wseq;
    await model!.close();
    model = await startFakeModel({ script: [{ reply: { content: [{ type: "text", text: "Yes, it passes." }] } }], listen: { socketPath: socket() }, apiKey: "task-token-2" });

    const second = run();
    second.send(startLine({ socketPath: socket(), token: "task-token-2", resume: true, lastWseq }));
    second.send({ type: "message", text: "Does it pass now?" });
    await second.waitFor((e) => e.type === "turn.end");
    expect(second.events[0]?.wseq).toBe(lastWseq + 1);
    expect(second.events.at(-1)?.data).toEqual({ turn: 1, stopReason: "end_turn" });
    const messages = model.requests[0]!.body.messages as { role: string; content: unknown }[];
    expect(messages[0]).toEqual({ role: "user", content: "The test fails. Fix it." });
    expect(JSON.stringify(messages)).toContain("toolu_test2");
    expect(JSON.stringify(messages)).toContain(FIX_SUMMARY);
    expect(JSON.stringify(messages.at(-1))).toContain("Does it pass now?");
    // The saved conversation kept the signed thinking blocks unchanged: the new stand-in accepted them.
    expect(model.rejected).toEqual([]);
    expect(JSON.stringify(messages)).toContain(FIX_REASONING);
    second.child.stdin.end();
    expect(await second.exit).toBe(0);
  });

  it("refuses to resume without a saved conversation", async () => {
    await setUp([]);
    const a = run();
    a.send(startLine({ socketPath: socket(), resume: true }));
    expect(await a.exit).toBe(1);
    expect(a.events.find((e) => e.type === "error")?.data.message).toMatch(/no saved conversation/);
    expect(existsSync(join(dirs.stateDir, "conversation.json"))).toBe(false);
  });

  it("refuses a message before the start and a second start; fails when stdin ends before a start", async () => {
    await setUp([{ reply: { content: [{ type: "text", text: "hello" }] } }]);
    const a = run();
    a.send({ type: "message", text: "too early" });
    a.send(startLine({ socketPath: socket() }));
    a.send(startLine({ socketPath: socket(), prompt: "again" }));
    await a.waitFor((e) => e.type === "turn.end");
    const errors = a.events.filter((e) => e.type === "error").map((e) => e.data as { code: string; message: string });
    expect(errors).toEqual([
      { code: "bad_request", message: expect.stringContaining("before the start line") },
      { code: "conflict", message: expect.stringContaining("already started") },
    ]);
    expect(model!.requests).toHaveLength(1);
    a.child.stdin.end();
    expect(await a.exit).toBe(0);

    const b = run();
    b.child.stdin.end();
    expect(await b.exit).toBe(1);
    expect(b.events.map((e) => e.type)).toEqual(["error", "done"]);
  });

  it("treats SIGTERM while waiting as a cancel", async () => {
    await setUp([{ reply: { content: [{ type: "text", text: "hello" }] } }]);
    const a = run();
    a.send(startLine({ socketPath: socket() }));
    await a.waitFor((e) => e.type === "turn.end");
    a.child.kill("SIGTERM");
    expect(await a.exit).toBe(130);
    expect(a.events.at(-1)).toMatchObject({ type: "done", data: { ok: false, summary: "cancelled" } });
  });
});
