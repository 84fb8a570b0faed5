/**
 * Internal to the TaskRoom's tests: a room with a fresh task, and sockets opened on it the
 * way the Worker forwards them, with their received frames collected.
 */
import { env } from "cloudflare:test";
import { CloseCode, LEASE_SECONDS, newTaskRecord, type Task } from "../../shared/index.ts";

export const ACCOUNT_ID = "acct_test";
export const USER = "alice";

export type RoomStub = DurableObjectStub<import("../task-room/index.ts").TaskRoom>;

export function makeTask(id: string): Task {
  return newTaskRecord(id, { repo: { url: "https://example.com/repo.git" }, prompt: "Fix the bug" }, USER);
}

let counter = 0;

export function roomStub(taskID: string): RoomStub {
  return env.TASK_ROOM.get(env.TASK_ROOM.idFromName(taskID)) as unknown as RoomStub;
}

/** A task id no other test uses. */
export function freshTaskID(): string {
  counter += 1;
  return `tsk_test${counter.toString().padStart(4, "0")}${Math.random().toString(16).slice(2, 10)}`;
}

/** A new room holding a new queued task. */
export async function newRoom(): Promise<{ stub: RoomStub; taskID: string }> {
  const taskID = freshTaskID();
  const stub = roomStub(taskID);
  await stub.create(ACCOUNT_ID, makeTask(taskID));
  return { stub, taskID };
}

/** A client socket whose frames are kept, parsed, in arrival order. */
export class TestSocket {
  readonly frames: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (event) => {
      this.frames.push(JSON.parse(event.data as string));
      this.wake();
    });
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
      this.wake();
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits (at most `ms`) until `test` holds for the frames received so far. */
  async until(test: (frames: any[]) => boolean, ms = 15_000): Promise<any[]> {
    const deadline = Date.now() + ms;
    while (!test(this.frames)) {
      if (Date.now() > deadline) throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.frames;
  }

  /** The first frame of `type` after index `from`, waiting for it. */
  async next(type: string, from = 0): Promise<any> {
    await this.until((frames) => frames.slice(from).some((f) => f.type === type));
    return this.frames.slice(from).find((f) => f.type === type);
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== null);
    return this.closed!;
  }

  /** Every event seq received, in order, from `event` and `events` frames. */
  seqs(): number[] {
    return this.frames.flatMap((f) => (f.type === "event" ? [f.event.seq] : f.type === "events" ? f.events.map((e: any) => e.seq) : []));
  }

  close(): void {
    this.ws.close(CloseCode.Normal, "done");
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export async function upgrade(stub: RoomStub, path: string, headers: Record<string, string>): Promise<Response> {
  return stub.fetch(`http://room${path}`, { headers: { Upgrade: "websocket", "x-tether-account": ACCOUNT_ID, ...headers } });
}

export async function openViewer(stub: RoomStub, after = 0, user = USER): Promise<TestSocket> {
  const res = await upgrade(stub, `/viewer?after=${after}`, { "x-tether-user": user });
  if (res.status !== 101 || !res.webSocket) throw new Error(`viewer upgrade answered ${res.status}: ${await res.text()}`);
  return new TestSocket(res.webSocket);
}

export async function openRunner(stub: RoomStub, runnerID: string): Promise<TestSocket> {
  const res = await upgrade(stub, "/runner", { "x-tether-runner": runnerID });
  if (res.status !== 101 || !res.webSocket) throw new Error(`runner upgrade answered ${res.status}: ${await res.text()}`);
  return new TestSocket(res.webSocket);
}

/** A runner that holds the task at `epoch` and has attached its data socket. */
export async function attachedRunner(stub: RoomStub, taskID: string, runnerID = "run_a", epoch = 1, leaseSeconds = LEASE_SECONDS, graceSeconds?: number): Promise<TestSocket> {
  if (!(await stub.assign(runnerID, epoch, leaseSeconds, graceSeconds))) throw new Error("assign refused");
  const runner = await openRunner(stub, runnerID);
  runner.send({ type: "attach", taskID, epoch, afterCommandSeq: 0 });
  await runner.next("attached");
  return runner;
}

/** `count` log events starting at runner counter `from`. */
export function logEvents(from: number, count: number, prefix = "line"): { rseq: number; ts: string; type: "log"; data: { level: "info"; message: string } }[] {
  return Array.from({ length: count }, (_, i) => ({
    rseq: from + i,
    ts: new Date().toISOString(),
    type: "log" as const,
    data: { level: "info" as const, message: `${prefix} ${from + i}` },
  }));
}

export async function allEvents(stub: RoomStub): Promise<{ seq: number; type: string; data: Record<string, unknown> }[]> {
  const page = await stub.listEvents(ACCOUNT_ID, 0, 1000);
  if (!page) throw new Error("no such room");
  return page.events;
}
