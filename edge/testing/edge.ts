/**
 * Internal to the edge's workerd tests: the Worker called with chosen auth settings,
 * user tokens, runners registered through the API, and sockets whose frames are kept.
 */
import { env } from "cloudflare:test";
import { SignJWT } from "jose";
import { CloseCode } from "../../shared/index.ts";
import { app } from "../app.ts";

export const SECRET = "test-secret-of-at-least-thirty-two-bytes!!";
export const JSON_HEADERS = { "content-type": "application/json" };

let counter = 0;
/** A fresh name, so tests sharing one file's storage never meet. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Calls the Worker's app with the test bindings plus `vars` (AUTH_SECRET by default). */
export async function call(path: string, init: RequestInit = {}, vars: Partial<Env> = {}): Promise<Response> {
  const bindings = { ...env, AUTH_SECRET: SECRET, ...vars } as Env;
  return app.fetch(new Request(`http://edge${path}`, init), bindings);
}

export async function userToken(claims: { sub: string; org?: string; [k: string]: unknown }, expiresIn = "1h"): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime(expiresIn).sign(new TextEncoder().encode(SECRET));
}

export function bearer(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

export async function createTask(token: string, body: Record<string, unknown> = {}): Promise<any> {
  const res = await call("/v1/tasks", {
    method: "POST",
    headers: bearer(token, JSON_HEADERS),
    body: JSON.stringify({ repo: { url: "https://example.com/r.git" }, prompt: "Fix the flaky test\nmore words", ...body }),
  });
  if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as any).task;
}

export async function registerRunner(token: string, body: Record<string, unknown> = {}): Promise<{ id: string; credential: string }> {
  const made = await call("/v1/runners/registration-tokens", { method: "POST", headers: bearer(token) });
  if (made.status !== 201) throw new Error(`registration token answered ${made.status}`);
  const { token: reg } = (await made.json()) as { token: string };
  const res = await call("/v1/runners/register", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ token: reg, ...body }) });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${await res.text()}`);
  const out = (await res.json()) as { runner: { id: string }; credential: string };
  return { id: out.runner.id, credential: out.credential };
}

/** A client socket whose frames are kept, parsed, in arrival order. */
export class TestSocket {
  readonly frames: any[] = [];
  closed: { code: number; reason: string } | null = null;

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (event) => this.frames.push(JSON.parse(event.data as string)));
    ws.addEventListener("close", (event) => {
      this.closed = { code: event.code, reason: event.reason };
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Waits (at most `ms`) until `test` holds for the frames so far. */
  async until(test: (frames: any[]) => boolean, ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!test(this.frames)) {
      if (Date.now() > deadline) throw new Error(`timed out; frames so far: ${JSON.stringify(this.frames).slice(0, 1500)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The first frame of `type` at or after index `from`. */
  async next(type: string, from = 0): Promise<any> {
    await this.until((frames) => frames.slice(from).some((f) => f.type === type));
    return this.frames.slice(from).find((f) => f.type === type);
  }

  count(type: string): number {
    return this.frames.filter((f) => f.type === type).length;
  }

  /**
   * Resolves once every frame the edge sent on this socket before the call has arrived: the
   * answer to a ping leaves after them, on the same ordered stream.
   */
  async fence(): Promise<void> {
    const pongs = this.count("pong");
    this.send({ type: "ping" });
    await this.until(() => this.count("pong") > pongs);
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await this.until(() => this.closed !== null);
    return this.closed!;
  }

  close(): void {
    try {
      this.ws.close(CloseCode.Normal, "done");
    } catch {
      // Already closed.
    }
  }
}

export async function openSocket(path: string, headers: Record<string, string>): Promise<TestSocket> {
  const res = await call(path, { headers: { upgrade: "websocket", ...headers } });
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade of ${path} answered ${res.status}: ${await res.text()}`);
  return new TestSocket(res.webSocket);
}

/** A runner's control socket that has said hello and got its welcome. */
export async function connectRunner(
  credential: string,
  hello: { labels?: string[]; capacity?: number; tasks?: { taskID: string; epoch: number }[] } = {},
): Promise<TestSocket> {
  const ws = await openSocket("/v1/runner/connect", bearer(credential));
  ws.send({ type: "hello", version: "test", labels: hello.labels ?? [], capacity: hello.capacity ?? 1, tasks: hello.tasks ?? [] });
  await ws.next("welcome");
  return ws;
}

export function accountStub(accountID: string): DurableObjectStub<import("../account/index.ts").Account> {
  return env.ACCOUNT.get(env.ACCOUNT.idFromName(accountID));
}

/** Polls `read` (at most `ms`) until `test` holds for what it returns, and returns that. */
export async function waitFor<T>(read: () => Promise<T>, test: (value: T) => boolean, ms = 5_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (test(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
