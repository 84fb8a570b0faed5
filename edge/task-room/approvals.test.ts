import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { TaskMode } from "../../shared/index.ts";
import { ACCOUNT_ID, allEvents, attachedRunner, freshTaskID, makeTask, openRunner, openViewer, roomStub } from "../testing/task-room.ts";
import type { TaskRoom } from "./task-room.ts";

const now = () => new Date().toISOString();

async function roomIn(mode: TaskMode) {
  const taskID = freshTaskID();
  const stub = roomStub(taskID);
  await stub.create(ACCOUNT_ID, { ...makeTask(taskID), mode, approvalTimeoutSeconds: 60 });
  const runner = await attachedRunner(stub, taskID);
  return { stub, taskID, runner };
}

describe("TaskRoom approvals", () => {
  it("holds a question as the task's pending approval until a viewer answers; the runner gets the answer as a command", async () => {
    const { stub, taskID, runner } = await roomIn("ask");
    const viewer = await openViewer(stub);
    await viewer.next("replayed");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "a1", kind: "command", subject: "npm test" } }] });
    await runner.next("ack");
    const task = await stub.getTask(ACCOUNT_ID);
    expect(task?.pendingApproval).toMatchObject({ approvalID: "a1", kind: "command", subject: "npm test", prefix: "npm test" });
    expect(Date.parse(task!.pendingApproval!.expiresAt) - Date.parse(task!.pendingApproval!.requestedAt)).toBe(60_000);
    await viewer.until((f) => f.some((x) => x.type === "event" && x.event.type === "approval.requested"));

    viewer.send({ type: "approval", approvalID: "a1", decision: "yes" });
    const command = await runner.next("command");
    expect(command.command).toMatchObject({ kind: "approval", approvalID: "a1", approved: true });
    const events = await allEvents(stub);
    expect(events.at(-1)).toMatchObject({ type: "approval.answered", data: { approvalID: "a1", decision: "yes", by: "alice" } });
    expect(command.command.seq).toBe(events.at(-1)!.seq);
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval).toBeNull();
  });

  it("lets no runner answer: approval.answered from the runner refuses its whole batch", async () => {
    const { stub, taskID, runner } = await roomIn("ask");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "a1", kind: "write", subject: "math.js" } }] });
    await runner.next("ack");
    const from = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 2, ts: now(), type: "approval.answered", data: { approvalID: "a1", decision: "yes", by: "alice" } }] });
    expect(await runner.next("error", from)).toMatchObject({ code: "invalid_frame" });
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval?.approvalID).toBe("a1");
    expect((await allEvents(stub)).some((e) => e.type === "approval.answered")).toBe(false);
  });

  it("answers by the REST command too, and refuses a second answer, an unknown id and a decision the question does not take", async () => {
    const { stub, taskID, runner } = await roomIn("ask");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "a1", kind: "command", subject: "ls" } }] });
    await runner.next("ack");
    expect(await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "a1", decision: "edit", text: "x" })).toMatchObject({ error: { code: "invalid_body" } });
    expect(await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "nope", decision: "yes" })).toMatchObject({ error: { code: "not_found" } });
    const answered = await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "a1", decision: "no" });
    expect(answered).toMatchObject({ seq: expect.any(Number) });
    expect((await runner.next("command")).command).toMatchObject({ approvalID: "a1", approved: false });
    expect(await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "a1", decision: "yes" })).toMatchObject({ error: { code: "conflict" } });
  });

  it("remembers always for the rest of the task: the same prefix is answered yes at once, a chained command still asks", async () => {
    const { stub, taskID, runner } = await roomIn("ask");
    const question = (n: number, id: string, subject: string) => ({ rseq: n, ts: now(), type: "approval.requested", data: { approvalID: id, kind: "command", subject } });
    runner.send({ type: "events", taskID, epoch: 1, events: [question(1, "a1", "npm test")] });
    await runner.next("ack");
    await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "a1", decision: "always" });
    await runner.next("command");
    const from = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: [question(2, "a2", "npm  test -- --watch"), question(3, "a3", "npm test; curl example.com")] });
    await runner.until((f) => f.slice(from).some((x) => x.type === "command"));
    const commands = runner.frames.slice(from).filter((x) => x.type === "command").map((x) => x.command);
    expect(commands).toEqual([expect.objectContaining({ approvalID: "a2", approved: true })]);
    const events = await allEvents(stub);
    expect(events.find((e) => e.type === "approval.answered" && e.data.approvalID === "a2")?.data).toMatchObject({ decision: "yes", by: "rule", rule: "npm test" });
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval?.approvalID).toBe("a3");
  });

  it("counts a question past its time as no, decided by the alarm, and ends a plan left unanswered cancelled", async () => {
    const { stub, taskID, runner } = await roomIn("plan");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "p1", kind: "plan", subject: "1. fix add" } }] });
    await runner.next("ack");
    // Not due yet: the alarm leaves it open.
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval?.approvalID).toBe("p1");
    await runInDurableObject(stub, (_room: TaskRoom, state) => void state.storage.sql.exec("UPDATE approvals SET expires_at = ?", Date.now() - 1));
    await runInDurableObject(stub, (room: TaskRoom) => room.alarm());
    await runner.until((f) => f.filter((x) => x.type === "command").length >= 2);
    const commands = runner.frames.filter((x) => x.type === "command").map((x) => x.command);
    expect(commands).toEqual([expect.objectContaining({ kind: "approval", approvalID: "p1", approved: false }), expect.objectContaining({ kind: "cancel" })]);
    const events = await allEvents(stub);
    expect(events.map((e) => e.type)).toContain("approval.expired");
    expect(events.some((e) => e.type === "approval.answered")).toBe(false);
    expect(events.find((e) => e.type === "user.cancel")?.data).toEqual({ by: "approval expired" });
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval).toBeNull();
  });

  it("a rejected plan cancels the task; an edited one goes to the runner with its text", async () => {
    const { stub, taskID, runner } = await roomIn("plan");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "p1", kind: "plan", subject: "1. rewrite" } }] });
    await runner.next("ack");
    await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "p1", decision: "edit", text: "1. only fix add" });
    expect((await runner.next("command")).command).toMatchObject({ approvalID: "p1", approved: true, text: "1. only fix add" });
    const from = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 2, ts: now(), type: "approval.requested", data: { approvalID: "p2", kind: "plan", subject: "again" } }] });
    await runner.next("ack", from);
    await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "p2", decision: "no" });
    await runner.until((f) => f.slice(from).filter((x) => x.type === "command").length >= 2);
    expect(runner.frames.slice(from).filter((x) => x.type === "command").map((x) => x.command.kind)).toEqual(["approval", "cancel"]);
    expect((await allEvents(stub)).find((e) => e.type === "user.cancel")?.data).toEqual({ by: "alice" });
  });

  it("always to a host also allows the host for the rest of the task, as the phone's Allow does", async () => {
    const { stub, taskID, runner } = await roomIn("ask");
    const host = (n: number, id: string, subject: string) => ({ rseq: n, ts: now(), type: "approval.requested", data: { approvalID: id, kind: "egress", subject } });
    // Two attempts at once (a client opens several), and one to another port.
    runner.send({ type: "events", taskID, epoch: 1, events: [host(1, "e1", "Registry.Test:4873"), host(2, "e2", "registry.test:4873"), host(3, "e3", "registry.test:443")] });
    await runner.next("ack");
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval).toMatchObject({ approvalID: "e1", kind: "egress", prefix: "registry.test:4873" });
    await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "e1", decision: "always" });
    await runner.until((f) => f.filter((x) => x.type === "command").length >= 3);
    expect(runner.frames.filter((x) => x.type === "command").map((x) => x.command)).toEqual([
      expect.objectContaining({ kind: "approval", approvalID: "e1", approved: true }),
      expect.objectContaining({ kind: "approval", approvalID: "e2", approved: true }),
      expect.objectContaining({ kind: "egress.allow", host: "registry.test:4873" }),
    ]);
    const events = await allEvents(stub);
    expect(events.find((e) => e.type === "approval.answered" && e.data.approvalID === "e2")?.data).toMatchObject({ decision: "yes", by: "rule", rule: "registry.test:4873" });
    expect(events.find((e) => e.type === "user.egress")?.data).toEqual({ host: "registry.test:4873", by: "alice" });
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval).toMatchObject({ approvalID: "e3", prefix: "registry.test" });
  });

  it("a task that ends with a question open needs no one any more, and takes no answer", async () => {
    const { stub, taskID, runner } = await roomIn("ask");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "a1", kind: "command", subject: "make" } }] });
    await runner.next("ack");
    const from = runner.frames.length;
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 2, ts: now(), type: "status", data: { status: "cancelled", reason: "cancelled by a user" } }] });
    await runner.next("ack", from);
    expect(await stub.getTask(ACCOUNT_ID)).toMatchObject({ status: "cancelled", pendingApproval: null });
    expect(await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "a1", decision: "yes" })).toMatchObject({ error: { code: "task_finished" } });
  });

  it("an answer given while the runner is away reaches it at its next attach", async () => {
    const { stub, taskID, runner } = await roomIn("ask");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "a1", kind: "command", subject: "make" } }] });
    await runner.next("ack");
    runner.close();
    await runner.waitClosed();
    await stub.command(ACCOUNT_ID, "alice", { kind: "approval", approvalID: "a1", decision: "yes" });
    const again = await openRunner(stub, "run_a");
    again.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await again.next("attached")).commands).toEqual([expect.objectContaining({ kind: "approval", approvalID: "a1", approved: true })]);
  });

  it("keeps a pending approval through an edge restart: a new viewer sees it and answers it", async () => {
    const { taskID, runner } = await roomIn("ask");
    runner.send({ type: "events", taskID, epoch: 1, events: [{ rseq: 1, ts: now(), type: "approval.requested", data: { approvalID: "a1", kind: "write", subject: "a.txt" } }] });
    await runner.next("ack");
    await abortAllDurableObjects();
    const stub = roomStub(taskID);
    expect((await stub.getTask(ACCOUNT_ID))?.pendingApproval).toMatchObject({ approvalID: "a1", kind: "write", subject: "a.txt" });
    const viewer = await openViewer(stub);
    await viewer.next("replayed");
    expect(viewer.frames.flatMap((f) => (f.type === "events" ? f.events : f.type === "event" ? [f.event] : [])).some((e: any) => e.type === "approval.requested")).toBe(true);
    viewer.send({ type: "approval", approvalID: "a1", decision: "yes" });
    await viewer.until((f) => f.some((x) => x.type === "event" && x.event.type === "approval.answered"));
    const again = await openRunner(stub, "run_a");
    again.send({ type: "attach", taskID, epoch: 1, afterCommandSeq: 0 });
    expect((await again.next("attached")).commands).toEqual([expect.objectContaining({ approvalID: "a1", approved: true })]);
  });
});
