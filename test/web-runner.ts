/**
 * A scripted runner for the web app's tests: it speaks the real runner protocol to the real
 * edge (register, control socket, accept, data socket, event batches with `rseq`, acks,
 * commands, artifact upload) and lets a test decide what each task "does". The full runner
 * with Docker and the model stand-in is exercised by the end-to-end suite.
 */
import WebSocket from "ws";
import type { z } from "zod";
import { EdgeToRunnerControl, EdgeToRunnerData, isTerminal, type Assignment, type Command, type RunnerEventBody } from "../shared/index.ts";

/** One socket to the edge; `Frame` is the union of frames the edge sends on it. */
class Socket<Frame extends { type: string }> {
  readonly frames: Frame[] = [];
  #waiters: Array<() => void> = [];
  closed = false;
  closeReason = "";

  constructor(
    readonly ws: WebSocket,
    schema: z.ZodType<Frame>,
  ) {
    ws.on("message", (data) => {
      const parsed = schema.safeParse(JSON.parse(String(data)));
      if (parsed.success) this.frames.push(parsed.data);
      this.#wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = true;
      this.closeReason = `${code} ${String(reason)}`;
      this.#wake();
    });
  }

  static async open<Frame extends { type: string }>(url: string, credential: string, schema: z.ZodType<Frame>): Promise<Socket<Frame>> {
    // Like the runner's own sockets (runner/link/edge-socket.ts): no permessage-deflate.
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${credential}` }, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`no answer from ${url} within 15 s`));
      }, 15_000);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`socket refused: ${res.statusCode}`));
      });
    });
    return new Socket(ws, schema);
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** The first frame of `type` not taken yet (frames are consumed in order). */
  async next<T extends Frame["type"]>(type: T, timeoutMs = 15_000): Promise<Extract<Frame, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex((f) => f.type === type);
      if (i >= 0) return this.frames.splice(i, 1)[0] as Extract<Frame, { type: T }>;
      if (this.closed) throw new Error(`socket closed (${this.closeReason}) while waiting for ${type}; frames: ${JSON.stringify(this.frames).slice(0, 500)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} frame within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.ws.close();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** One task held by the scripted runner. */
export class HeldTask {
  rseq = 0;
  /** The task reported a terminal status: the runner no longer holds it. */
  finished = false;
  data: Socket<EdgeToRunnerData> | null = null;
  constructor(
    readonly runner: ScriptedRunner,
    readonly assignment: Assignment,
  ) {}

  get id(): string {
    return this.assignment.task.id;
  }
  get epoch(): number {
    return this.assignment.epoch;
  }

  async attach(): Promise<void> {
    this.data = await Socket.open(`${this.runner.wsBase}/v1/runner/tasks/${this.id}/ws`, this.runner.credential, EdgeToRunnerData);
    this.data.send({ type: "attach", taskID: this.id, epoch: this.epoch, afterCommandSeq: 0 });
    const attached = await this.data.next("attached");
    this.rseq = Math.max(this.rseq, attached.ackedRseq);
  }

  /** Sends events as one batch and waits for the edge to ack them. */
  async emit(...events: RunnerEventBody[]): Promise<void> {
    const data = this.#data();
    const ts = new Date().toISOString();
    const batch = events.map((e) => ({ ...e, rseq: ++this.rseq, ts }));
    if (events.some((e) => e.type === "status" && isTerminal(e.data.status))) this.finished = true;
    data.send({ type: "events", taskID: this.id, epoch: this.epoch, events: batch });
    for (;;) {
      const ack = await data.next("ack");
      if (ack.rseq >= this.rseq) return;
    }
  }

  async nextCommand(timeoutMs = 15_000): Promise<Command> {
    return (await this.#data().next("command", timeoutMs)).command;
  }

  async upload(name: string, body: string): Promise<void> {
    const res = await fetch(`${this.runner.edgeURL}/v1/runner/tasks/${this.id}/artifacts/${name}?epoch=${this.epoch}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${this.runner.credential}`, "content-type": "text/x-diff" },
      body,
    });
    if (res.status !== 201) throw new Error(`artifact upload answered ${res.status}: ${await res.text()}`);
  }

  #data(): Socket<EdgeToRunnerData> {
    if (!this.data) throw new Error("attach first");
    return this.data;
  }
}

export class ScriptedRunner {
  credential = "";
  control: Socket<EdgeToRunnerControl> | null = null;
  readonly held = new Map<string, HeldTask>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly edgeURL: string,
    readonly labels: string[] = [],
  ) {}

  get wsBase(): string {
    return this.edgeURL.replace(/^http/, "ws");
  }

  async register(userToken: string, name = "web-test-runner"): Promise<void> {
    const reg = await fetch(`${this.edgeURL}/v1/runners/registration-tokens`, { method: "POST", headers: { authorization: `Bearer ${userToken}` } });
    const { token } = (await reg.json()) as { token: string };
    const res = await fetch(`${this.edgeURL}/v1/runners/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token, name, labels: this.labels, capacity: 4 }),
    });
    if (res.status !== 201 && res.status !== 200) throw new Error(`register answered ${res.status}: ${await res.text()}`);
    this.credential = ((await res.json()) as { credential: string }).credential;
  }

  /**
   * Opens (or reopens, after the edge restarted) the control socket, says hello, and then says
   * `heartbeat` as often as `welcome` asks, as a real runner does: the edge counts a runner
   * silent for SILENT_HEARTBEATS intervals (a minute) offline and assigns it nothing more.
   */
  async connect(): Promise<void> {
    const control = await Socket.open(`${this.wsBase}/v1/runner/connect`, this.credential, EdgeToRunnerControl);
    this.control = control;
    control.send({ type: "hello", version: "web-test", labels: this.labels, capacity: 4, tasks: this.#heldNow() });
    const welcome = await control.next("welcome");
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (!control.closed) control.send({ type: "heartbeat", tasks: this.#heldNow() });
    }, welcome.heartbeatSeconds * 1000);
    for (const task of this.held.values()) if (!task.finished) await task.attach();
  }

  #heldNow(): Array<{ taskID: string; epoch: number }> {
    return [...this.held.values()].filter((t) => !t.finished).map((t) => ({ taskID: t.id, epoch: t.epoch }));
  }

  /** Waits for the next assignment, accepts it and attaches its data socket. */
  async take(timeoutMs = 15_000): Promise<HeldTask> {
    if (!this.control) throw new Error("connect first");
    const { assignment } = await this.control.next("assign", timeoutMs);
    this.control.send({ type: "accept", taskID: assignment.task.id, epoch: assignment.epoch });
    const task = new HeldTask(this, assignment);
    this.held.set(task.id, task);
    await task.attach();
    return task;
  }

  close(): void {
    clearInterval(this.#heartbeat);
    this.control?.close();
    for (const t of this.held.values()) t.data?.close();
  }
}
