import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RunnerEvent } from "../shared/protocol.ts";
import { CloseCode } from "../shared/sockets.ts";
import { LOCAL_REPO_REASON, NO_MODEL_KEY_REASON } from "./task/index.ts";
import { assign, daemon, edge, forgetDaemon, git, home, journal, proxy, sandbox, started, types, useDaemonHarness } from "./testing/daemon-harness.ts";
import { assignmentOf } from "./testing/fixtures.ts";

useDaemonHarness();

describe("Daemon", () => {
  it("runs a task on fakes (sandbox, git, model proxy) from accept to cleanup: clone, start line, events, follow-up, done, diff, cleanup after ack", async () => {
    const d = daemon();
    await started(d);
    expect(edge.framesOf("hello")[0]).toMatchObject({ labels: ["l1"], capacity: 2, tasks: [] });
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker start");
    expect(edge.framesOf("accept")).toEqual([{ type: "accept", taskID: "t1", epoch: 1 }]);
    const w = sandbox.worker("t1")!;
    expect(w.received[0]).toMatchObject({ type: "start", task: { taskID: "t1", prompt: "fix it", repo: { branch: "tether/t1" } }, proxy: { socketPath: "/run/tether/model.sock", token: "tok-t1" }, resume: false, lastWseq: 0 });
    expect(w.spec.proxySocketPath).toBe(join(home, "proxy", "t1", "model.sock"));
    w.emit("agent.text", { turn: 0, text: "hello" });
    w.emit("turn.end", { turn: 0, stopReason: "end_turn" });
    await edge.until(() => types("t1").includes("status:waiting"), 5000, "waiting");
    edge.command("t1", { seq: 3, kind: "message", text: "and the tests" });
    await edge.until(() => w.received.length === 2, 5000, "message to stdin");
    expect(w.received[1]).toEqual({ type: "message", text: "and the tests" });
    w.emit("done", { ok: true, summary: "did it" });
    await edge.until(() => types("t1").includes("status:succeeded"), 5000, "succeeded");
    expect(types("t1")).toEqual(["log", "status:running", "agent.text", "turn.end", "status:waiting", "status:running", "done", "diff", "status:succeeded"]);
    const diff = edge.task("t1").events.find((e) => e.type === "diff")!;
    expect(diff.data).toMatchObject({ files: 1, insertions: 2, deletions: 1, artifact: "diff.patch", branch: "tether/t1" });
    expect(edge.task("t1").artifacts.get("diff.patch")).toContain("+++ b/a.txt");
    expect(git.calls).toEqual(["clone https://example.invalid/repo.git tether/t1", "commit tether: fix it", "diff base123"]);
    await edge.until(() => w.removed && d.tasks.size === 0, 5000, "cleanup after the ack");
    expect(proxy.unregistered).toEqual(["t1"]);
    expect(existsSync(join(home, "tasks", "t1"))).toBe(false);
  });

  it("gives a task the memory and CPUs it asks for, capped at the runner's maximum", async () => {
    const d = daemon();
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { limits: { memoryMB: 128, cpus: 4, maxTurns: 3 } }) });
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    expect(sandbox.worker("t1")!.spec.resources).toEqual({ memoryMB: 128, cpus: 1, pids: 64 });
    expect(proxy.registered.get("t1")!.budget).toEqual({ maxTokens: undefined, maxCostUSD: undefined, maxTurns: 3, timeoutMinutes: undefined });
  });

  it("accepts then fails at once when there is no model key", async () => {
    const d = daemon({ hasModelKey: false });
    await started(d);
    assign("t1");
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect(edge.framesOf("accept")).toHaveLength(1);
    expect(edge.framesOf("reject")).toHaveLength(0);
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ status: "failed", reason: NO_MODEL_KEY_REASON });
    expect(sandbox.workers).toHaveLength(0);
  });

  it("refuses to clone a path or file:// URL on its own host unless allowed", async () => {
    const d = daemon({ allowLocalRepos: false });
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { repo: { url: "/etc/secret-repo" } }) });
    edge.sendControl({ type: "assign", assignment: assignmentOf("t2", 1, { repo: { url: "file:///srv/private.git" } }) });
    await edge.until(() => types("t1").includes("status:failed") && types("t2").includes("status:failed"), 5000, "both failed");
    for (const id of ["t1", "t2"]) expect(edge.task(id).events.at(-1)!.data).toMatchObject({ status: "failed", reason: LOCAL_REPO_REASON });
    expect(git.calls).toEqual([]);
    expect(sandbox.workers).toHaveLength(0);
  });

  it("fails a task at once when it has a USD limit and its model has no known price", async () => {
    const d = daemon();
    await started(d);
    edge.sendControl({ type: "assign", assignment: assignmentOf("t1", 1, { model: "claude-mythos-preview", limits: { maxCostUSD: 2 } }) });
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ status: "failed", reason: expect.stringMatching(/no price for claude-mythos-preview/) });
    expect(git.calls).toEqual([]);
    expect(sandbox.workers).toHaveLength(0);
  });

  it("turns a bad worker line into an error event and carries on; usage and budget refusals (a pause) come from the proxy", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    w.raw("this is not json");
    w.raw(JSON.stringify({ wseq: 1, type: "agent.text", data: { turn: "x" } }));
    w.emit("usage", { model: "m", inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0 });
    proxy.registered.get("t1")!.onUsage({ model: "m", inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0.01 });
    proxy.registered.get("t1")!.onRefusal({ limit: "maxTurns", reason: "turn budget spent: 3 of 3 model calls made" }, { limits: { maxTurns: 3 }, spent: { maxTurns: 3 }, remaining: { maxTurns: 0 } });
    await edge.until(() => types("t1").includes("status:waiting"), 5000, "paused at the budget");
    w.emit("agent.text", { turn: 0, text: "still here" });
    await edge.until(() => types("t1").includes("agent.text"), 5000, "text after bad lines");
    expect(types("t1")).toEqual(["log", "status:running", "error", "error", "usage", "budget.reached", "status:waiting", "agent.text"]);
    expect(edge.task("t1").events[5]!.data).toMatchObject({ limit: "maxTurns", reason: "turn budget spent: 3 of 3 model calls made" });
    expect(edge.task("t1").events[2]!.data).toMatchObject({ code: "bad_worker_line" });
    expect(edge.task("t1").events[4]!.data).toMatchObject({ inputTokens: 10 });
  });

  it("fails a task whose worker exits without done, with its exit code and reason (OOM)", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    sandbox.worker("t1")!.exit({ exitCode: 137, reason: "oom", message: "killed by the kernel: out of memory (limit 256 MB)" });
    await edge.until(() => types("t1").includes("status:failed"), 5000, "failed");
    expect(edge.task("t1").events.at(-1)!.data).toEqual({ status: "failed", reason: "killed by the kernel: out of memory (limit 256 MB)", exitCode: 137 });
    expect(types("t1")).toContain("diff");
  });

  it("cancels: stops the worker with the grace period, keeps the diff, then cancelled", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    edge.command("t1", { seq: 3, kind: "cancel" });
    await edge.until(() => types("t1").includes("status:cancelled"), 5000, "cancelled");
    expect(sandbox.worker("t1")!.stopGrace).toBe(10_000);
    expect(types("t1").slice(-2)).toEqual(["diff", "status:cancelled"]);
    expect(edge.task("t1").artifacts.has("diff.patch")).toBe(true);
  });

  it("fails a task whose clone fails and one whose worker cannot start", async () => {
    const d = daemon();
    await started(d);
    git.cloneError = "repository not found";
    assign("t1");
    await edge.until(() => types("t1").includes("status:failed"), 5000, "clone failure");
    expect((edge.task("t1").events.at(-1)!.data as { reason: string }).reason).toContain("repository not found");
    git.cloneError = undefined;
    sandbox.failStart = "no such image: tether-worker:latest";
    assign("t2");
    await edge.until(() => types("t2").includes("status:failed"), 5000, "start failure");
    expect((edge.task("t2").events.at(-1)!.data as { reason: string }).reason).toContain("no such image");
  });

  it("rejects assignments beyond capacity and re-accepts a repeated one", async () => {
    const d = daemon({ capacity: 1 });
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    assign("t1");
    assign("t2");
    await edge.until(() => edge.framesOf("reject").length === 1 && edge.framesOf("accept").length === 2, 5000, "reject");
    expect(edge.framesOf("reject")[0]).toMatchObject({ taskID: "t2", reason: expect.stringContaining("capacity") });
    expect(sandbox.workers).toHaveLength(1);
  });

  it("keeps state.json and the metrics in step with the control link", async () => {
    const d = daemon();
    await started(d);
    const state = () => JSON.parse(readFileSync(join(home, "state.json"), "utf8")) as { link: string; runnerID: string };
    expect(state()).toMatchObject({ link: "connected", runnerID: "r1" });
    edge.control!.terminate();
    await edge.until(() => edge.controlConnects === 2 && d.link === "connected", 5000, "reconnect");
    expect(d.metrics.get("reconnects")).toBe(1);
    expect(d.metrics.render()).toContain("tether_runner_edge_connected 1");
    await d.stop();
    forgetDaemon(d);
    expect(state().link).toBe("stopped");
  });

  it("ignores bad control frames and keeps working", async () => {
    const d = daemon();
    await started(d);
    edge.sendControl("{ nope");
    edge.sendControl({ type: "assign", assignment: { epoch: 1 } });
    edge.sendControl({ type: "launch-missiles" });
    edge.sendControl({ v: 2, type: "pong" });
    assign("t1");
    await edge.until(() => edge.framesOf("accept").length === 1, 5000, "accept after bad frames");
    expect(d.link).toBe("connected");
  });

  it("applies a command once even when attached sends it again after a reconnect", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    edge.command("t1", { seq: 3, kind: "message", text: "once" });
    await edge.until(() => w.received.length === 2, 5000, "message");
    // An edge that lost track of the runner's position replays every command.
    const attaches = edge.framesOf("attach").length;
    edge.data.get("t1")!.terminate();
    await edge.until(() => edge.framesOf("attach").length === attaches + 1, 5000, "re-attach");
    expect(edge.framesOf("attach").at(-1)).toMatchObject({ afterCommandSeq: 3 });
    edge.data.get("t1")!.send(JSON.stringify({ type: "command", taskID: "t1", command: { seq: 3, kind: "message", text: "once" } }));
    edge.command("t1", { seq: 4, kind: "message", text: "twice" });
    // Commands are applied in the order they come, so a repeated "once" would be in before "twice".
    await edge.until(() => w.received.some((m) => m.type === "message" && m.text === "twice"), 5000, "second message");
    expect(w.received.slice(1)).toEqual([{ type: "message", text: "once" }, { type: "message", text: "twice" }]);
  });

  it("starts a new worker with resume when a follow-up comes after the worker exited", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const first = sandbox.worker("t1")!;
    first.emit("turn.end", { turn: 0, stopReason: "end_turn" });
    first.exit({ exitCode: 0, reason: "exited", message: "exited with code 0" });
    await edge.until(() => types("t1").includes("status:waiting"), 5000, "waiting");
    edge.command("t1", { seq: 3, kind: "message", text: "more" });
    await edge.until(() => sandbox.workers.length === 2, 5000, "second worker");
    const second = sandbox.worker("t1")!;
    expect(first.removed).toBe(true);
    expect(second.received).toEqual([
      expect.objectContaining({ type: "start", resume: true, lastWseq: 1 }),
      { type: "message", text: "more" },
    ]);
    expect(proxy.registered.get("t1")!.resume).toMatchObject({ token: "tok-t1" });
  });

  it("stops and forgets a revoked task without further events", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    edge.sendControl({ type: "revoke", taskID: "t1", epoch: 1, reason: "lease lost" });
    await edge.until(() => w.removed && d.tasks.size === 0, 5000, "revoked");
    const n = edge.task("t1").events.length;
    // Worker output is handled at once: an event from it would be in the journal when emit returns.
    w.emit("agent.text", { turn: 0, text: "too late" });
    expect(journal.task("t1")).toBeUndefined();
    expect(journal.pendingCount).toBe(0);
    expect(edge.task("t1").events.length).toBe(n);
    expect(types("t1")).not.toContain("status:failed");
  });

  it("abandons a task whose data socket the edge closes for good (lease refused)", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    edge.data.get("t1")!.send(JSON.stringify({ type: "error", code: "not_leased", message: "no live lease", taskID: "t1" }));
    edge.data.get("t1")!.close(CloseCode.Revoked, "no live lease");
    await edge.until(() => w.removed && d.tasks.size === 0, 5000, "abandoned");
    expect(proxy.unregistered).toEqual(["t1"]);
    expect(existsSync(join(home, "tasks", "t1"))).toBe(false);
  });

  it("holds worker output in memory when the outbox is full and sends it after acks", async () => {
    edge.holdAcks = true;
    const d = daemon({ outboxMax: 5 });
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    for (let i = 0; i < 10; i++) w.emit("agent.text.delta", { turn: 0, text: `d${i}` });
    await edge.until(() => edge.task("t1").events.length === 5, 5000, "5 in flight");
    // The journal holds its bound and no more; the data channel sends only from the journal.
    expect(journal.pendingCount).toBe(5);
    expect(journal.isFull).toBe(true);
    expect(edge.task("t1").events.length).toBe(5);
    edge.holdAcks = false;
    edge.ackAll("t1");
    await edge.until(() => edge.task("t1").events.length === 12, 5000, "the rest after acks");
    const deltas = edge.task("t1").events.filter((e) => e.type === "agent.text.delta").map((e) => (e as RunnerEvent & { data: { text: string } }).data.text);
    expect(deltas).toEqual(Array.from({ length: 10 }, (_, i) => `d${i}`));
  });

  it("finishes a task left waiting with no follow-up as succeeded, silencing the stopped worker", async () => {
    const d = daemon({ idleMs: 100 });
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    const w = sandbox.worker("t1")!;
    const stop = w.stop.bind(w);
    w.stop = async (grace) => {
      w.emit("done", { ok: false, summary: "cancelled" });
      return stop(grace);
    };
    w.emit("turn.end", { turn: 0, stopReason: "end_turn" });
    await edge.until(() => types("t1").includes("status:succeeded"), 5000, "succeeded after idling");
    expect(types("t1")).toEqual(["log", "status:running", "turn.end", "status:waiting", "diff", "status:succeeded"]);
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ reason: expect.stringContaining("no follow-up") });
    expect(w.stopGrace).toBe(10_000);
  });

  it("wraps a task up when the user finishes it: at once when waiting, at the turn's end when running", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    assign("t2");
    await edge.until(() => sandbox.worker("t1") !== undefined && sandbox.worker("t2") !== undefined, 5000, "workers");
    const waiting = sandbox.worker("t1")!;
    waiting.emit("turn.end", { turn: 0, stopReason: "end_turn" });
    await edge.until(() => types("t1").includes("status:waiting"), 5000, "t1 waiting");
    edge.command("t1", { seq: 3, kind: "finish" });
    await edge.until(() => types("t1").includes("status:succeeded"), 5000, "t1 succeeded");
    expect(types("t1")).toEqual(["log", "status:running", "turn.end", "status:waiting", "diff", "status:succeeded"]);
    expect(edge.task("t1").events.at(-1)!.data).toMatchObject({ reason: "finished by the user" });
    expect(waiting.stopGrace).toBe(10_000);

    const running = sandbox.worker("t2")!;
    edge.command("t2", { seq: 3, kind: "finish" });
    running.emit("agent.text", { turn: 0, text: "still at it" });
    await edge.until(() => types("t2").includes("agent.text"), 5000, "t2 keeps running");
    expect(types("t2")).not.toContain("status:succeeded");
    running.emit("turn.end", { turn: 0, stopReason: "end_turn" });
    await edge.until(() => types("t2").includes("status:succeeded"), 5000, "t2 succeeded after its turn");
    expect(types("t2")).toEqual(["log", "status:running", "agent.text", "turn.end", "status:waiting", "diff", "status:succeeded"]);
  });

  it("drains: refuses new tasks, waits for held ones to finish, then stops", async () => {
    const d = daemon();
    await started(d);
    assign("t1");
    await edge.until(() => sandbox.worker("t1") !== undefined, 5000, "worker");
    let drained = false;
    const draining = d.drain().then(() => (drained = true));
    await edge.until(() => edge.framesOf("hello").at(-1)!.capacity === 0, 5000, "hello with capacity 0");
    assign("t2");
    await edge.until(() => edge.framesOf("reject").length === 1, 5000, "reject while draining");
    expect(drained).toBe(false);
    sandbox.worker("t1")!.emit("done", { ok: true, summary: "ok" });
    await draining;
    expect(types("t1").at(-1)).toBe("status:succeeded");
    forgetDaemon(d);
  });
});
