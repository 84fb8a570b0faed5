/**
 * End to end, driven only through the public API as a phone drives it (REST and the viewer
 * socket with `tether.v1, bearer.<jwt>`): the real edge under `wrangler dev`, the real
 * `tether-runner` process with the Docker sandbox and the worker image, the stand-in model,
 * and a git repository with a bare remote. One edge and one runner serve every task here;
 * the tasks run side by side.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIX_NOTE, FIX_REASONING, FIX_SUMMARY } from "./fake-model/scripts.ts";
import { CANCEL_NOTE, E2E_CONTEXT_WINDOW, LONG_ANSWER, requestsFor, SLOW_LINES } from "./support/e2e-model.ts";
import { expectContiguous, outputOf, repeatedAgentEvents, statusesOf } from "./support/e2e-checks.ts";
import { E2EStack } from "./support/e2e-stack.ts";
import { describeDocker } from "./support/docker.ts";
import { describeEvents, ViewerSocket } from "./support/viewer-socket.ts";
import { taskContainers } from "./support/task-containers.ts";

describeDocker("end to end: one task's life through the public API", () => {
  const stack = new E2EStack();
  const viewers: ViewerSocket[] = [];
  const open = async (taskID: string, after = 0) => {
    const v = await ViewerSocket.open(stack.edge.url, taskID, stack.token, after);
    viewers.push(v);
    return v;
  };

  beforeAll(async () => {
    await stack.start();
    await stack.addRunner({ name: "e2e-main", capacity: 4, push: true });
  }, 300_000);

  afterAll(async () => {
    for (const v of viewers) await v.close();
    await stack.dispose();
  }, 120_000);

  describe.concurrent("tasks side by side", () => {
    it("runs a task to succeeded: the viewer sees every step, the diff downloads, the branch is pushed, usage is recorded", async () => {
      const { phone, repo } = stack;
      const task = await phone.createTask({ repo: { url: repo.url }, prompt: "[e2e:fix] The test fails. Fix it." });
      expect(task.status).toBe("queued");
      const viewer = await open(task.id);

      await viewer.waitForStatus("waiting", 120_000);
      await viewer.waitFor("the agent's answer", (e) => e.type === "agent.text" && e.data.text === FIX_SUMMARY);
      const run = viewer.events;
      const tests = run.filter((e) => e.type === "tool.start" && (e.data.input as { command?: string }).command === "node test.js");
      expect(tests.map((e) => e.data.callID)).toEqual(["toolu_test1", "toolu_test2"]);
      expect(outputOf(run, "toolu_test1")).toMatch(/AssertionError|Expected values/);
      expect(outputOf(run, "toolu_test2")).toContain("ok: add(2, 3) is 5");
      expect(run.some((e) => e.type === "file.changed" && e.data.path === "math.js")).toBe(true);

      await phone.message(task.id, "Add a subtraction helper.");
      await viewer.waitFor("the follow-up's answer", (e) => e.type === "agent.text" && e.data.text === "Added sub.js.", 60_000);
      await phone.finish(task.id);
      const done = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
      expect(done.data.status, describeEvents(viewer.events)).toBe("succeeded");

      const events = viewer.events;
      expectContiguous(events);
      expect(events).toEqual(await phone.events(task.id));
      expect(statusesOf(events)).toEqual(["queued", "assigned", "running", "waiting", "running", "waiting", "succeeded"]);
      const order = (type: string) => events.findIndex((e) => e.type === type);
      expect(order("agent.text")).toBeGreaterThan(events.findIndex((e) => e.data.status === "running"));
      expect(order("tool.start")).toBeLessThan(order("tool.output"));
      expect(events.findIndex((e) => e.type === "user.message")).toBeGreaterThan(events.findIndex((e) => e.data.status === "waiting"));
      expect(order("user.finish")).toBeLessThan(order("diff"));
      expect(done.data.reason).toBe("finished by the user");
      expect(repeatedAgentEvents(events)).toEqual([]);

      // The diff: its event, the artifact, the branch on the bare remote.
      const diff = events.find((e) => e.type === "diff");
      expect(diff, describeEvents(events)).toBeDefined();
      expect(order("diff")).toBeLessThan(events.length - 1);
      expect(diff!.data).toMatchObject({ artifact: "diff.patch", files: 2, branch: `tether/${task.id}`, pushed: true });
      const patch = await phone.artifact(task.id, "diff.patch");
      const pushed = repo.branchCommit(`tether/${task.id}`);
      expect(pushed, "the task's branch on the bare remote").toBeDefined();
      expect(patch).toBe(repo.diff(repo.head, pushed!));
      expect(repo.show(pushed!, "math.js")).toContain("return a + b;");
      expect(repo.show(pushed!, "sub.js")).toContain("return a - b;");

      // Usage: eight model calls (six for the fix, two for the follow-up) with the script's tokens.
      const final = await phone.task(task.id);
      expect(final.status).toBe("succeeded");
      expect(final.diff).toMatchObject({ files: 2 });
      expect(final.branch).toBe(`tether/${task.id}`);
      expect(requestsFor(stack.model, "[e2e:fix]")).toBe(8);
      expect(final.usage).toMatchObject({ modelCalls: 8, inputTokens: 7 * 100 + 900, outputTokens: 7 * 20 + 40, cacheReadTokens: 800 });
      // Its cost on claude-sonnet-5-5 at the published prices ($2 in, $10 out, $0.10 cache reads per million):
      // 1,600 × $2 + 180 × $10 + 800 × $0.10 = $0.0032 + $0.0018 + $0.00008 = $0.00508.
      expect(final.usage.costUSD).toBeCloseTo(0.00508, 10);

      // Today's model: the agent asked for summarized thinking, the feed holds its reasoning
      // and its notes between tool calls, and every thinking block went back unchanged (no 400).
      const thinking = events.filter((e) => e.type === "agent.thinking").map((e) => e.data.text);
      expect(thinking).toEqual(expect.arrayContaining([FIX_REASONING, "Let me look at the repository.", FIX_NOTE, "A sub helper beside add."]));
      expect(stack.model.rejected.filter((r) => JSON.stringify(r.body).includes("[e2e:fix]"))).toEqual([]);
    }, 240_000);

    it("cancels in the middle of a long command: cancelled, the diff so far kept", async () => {
      const { phone } = stack;
      const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:cancel] Take notes, then tick." });
      const viewer = await open(task.id);
      await viewer.waitFor("tick 3 from the long command", (e) => e.type === "tool.output" && String(e.data.text).includes("tick 3\n"), 90_000);
      expect(await taskContainers(new Docker(), task.id, { running: true })).toHaveLength(1);
      await phone.cancel(task.id);
      const end = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
      expect(end.data.status, describeEvents(viewer.events)).toBe("cancelled");

      const events = viewer.events;
      expectContiguous(events);
      expect(events).toEqual(await phone.events(task.id));
      expect(events.some((e) => e.type === "user.cancel")).toBe(true);
      expect(outputOf(events, "toolu_ticks")).not.toContain("tick 240");
      const diff = events.find((e) => e.type === "diff");
      expect(diff?.data, describeEvents(events)).toMatchObject({ files: 1, changedFiles: [{ path: "notes.txt", insertions: 1, deletions: 0 }] });
      expect(await phone.artifact(task.id, "diff.patch")).toContain(`+${CANCEL_NOTE.trim()}`);
      expect((await phone.task(task.id)).status).toBe("cancelled");
      // `cancelled` is reported only once the container has stopped.
      expect(await taskContainers(new Docker(), task.id, { running: true })).toEqual([]);
    }, 180_000);

    it("a viewer that drops and comes back with after= misses nothing and gets nothing twice", async () => {
      const { phone } = stack;
      const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:slow] Fix it slowly." });
      const first = await open(task.id);
      await first.waitFor("line 4 of the long command", (e) => e.type === "tool.output" && String(e.data.text).includes("line 4\n"), 90_000);
      await first.close();
      const kept = [...first.events];
      // The command goes on printing while nobody watches.
      await new Promise((r) => setTimeout(r, 1500));
      const second = await open(task.id, kept.at(-1)!.seq);
      await second.waitForStatus("waiting", 90_000);
      expect(second.events[0]?.seq).toBe(kept.at(-1)!.seq + 1);

      const joined = [...kept, ...second.events];
      expectContiguous(joined);
      const rest = await phone.events(task.id);
      expect(joined).toEqual(rest.slice(0, joined.length));
      const lines = outputOf(joined, "toolu_slow_loop").trim().split("\n");
      expect(lines).toEqual(Array.from({ length: SLOW_LINES }, (_, i) => `line ${i + 1}`));
      await phone.cancel(task.id);
      await second.waitForStatus("cancelled", 60_000);
    }, 180_000);

    it("a long task outgrows the model's context window: the agent compacts its conversation and goes on", async () => {
      const { phone } = stack;
      const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:long] List a lot, then answer.", effort: "low" });
      const viewer = await open(task.id);
      await viewer.waitFor("the answer after the compaction", (e) => e.type === "agent.text" && e.data.text === LONG_ANSWER, 150_000);
      const compacted = viewer.events.filter((e) => e.type === "context.compacted");
      expect(compacted, describeEvents(viewer.events)).toHaveLength(1);
      expect(compacted[0]!.data.tokensBefore).toBeGreaterThan(E2E_CONTEXT_WINDOW);
      expect(compacted[0]!.data.tokensAfter).toBeLessThan(E2E_CONTEXT_WINDOW);
      const refused = stack.model.rejected.filter((r) => JSON.stringify(r.body).includes("[e2e:long]"));
      expect(refused.map((r) => r.reason)).toEqual([expect.stringMatching(/^prompt is too long: \d+ tokens > 40000 maximum$/)]);
      const sent = stack.model.requests.filter((r) => JSON.stringify(r.body.messages).includes("[e2e:long]"));
      expect(sent.every((r) => JSON.stringify(r.body.output_config) === JSON.stringify({ effort: "low" }))).toBe(true);
      expect((await phone.task(task.id)).effort).toBe("low");
      await phone.finish(task.id);
      const done = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
      expect(done.data.status, describeEvents(viewer.events)).toBe("succeeded");
    }, 240_000);

    it("a model that never stops is refused by the runner's proxy at the token limit: the task waits at its budget, and a cancel ends it", async () => {
      const { phone } = stack;
      // Every call costs 100 + 20 tokens; the proxy admits one only while its input (held at its
      // size in bytes, about 2.5 KB and growing) and an output token fit in what is left.
      const task = await phone.createTask({ repo: { url: stack.repo.url }, prompt: "[e2e:forever] Keep going.", limits: { maxTokens: 4000 } });
      const viewer = await open(task.id);
      const reached = await viewer.waitFor("budget.reached", (e) => e.type === "budget.reached", 120_000);
      expect(reached.data, describeEvents(viewer.events)).toMatchObject({ limit: "maxTokens", limits: { maxTokens: 4000 }, reason: expect.stringMatching(/budget/) });
      const paused = await viewer.waitForStatus(["waiting", "succeeded", "failed", "cancelled", "lost"], 60_000);
      expect(paused.data.status, describeEvents(viewer.events)).toBe("waiting");
      expect(viewer.events.some((e) => e.type === "error"), describeEvents(viewer.events)).toBe(false);
      const calls = requestsFor(stack.model, "[e2e:forever]");
      expect(calls).toBeGreaterThan(1);
      const waiting = await phone.task(task.id);
      expect(waiting.status).toBe("waiting");
      expect(waiting.usage.modelCalls).toBe(calls);
      const { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens } = waiting.usage;
      expect(inputTokens + outputTokens + cacheReadTokens + cacheWriteTokens).toBeLessThanOrEqual(4000);
      await phone.cancel(task.id);
      const end = await viewer.waitForStatus(["succeeded", "failed", "cancelled", "lost"], 60_000);
      expect(end.data.status, describeEvents(viewer.events)).toBe("cancelled");
      expect(requestsFor(stack.model, "[e2e:forever]")).toBe(calls);
    }, 180_000);
  });
});
