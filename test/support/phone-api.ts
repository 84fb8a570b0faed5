/**
 * The REST half of a phone for end-to-end tests: a user token in `Authorization: Bearer` and
 * the public task routes, each answer checked against its status and the shared schema.
 */
import { Event } from "../../shared/events.ts";
import { Environment, type EnvironmentRequest } from "../../shared/environment.ts";
import { type CreateTaskRequest, Task } from "../../shared/task.ts";

export class PhoneAPI {
  constructor(
    readonly edgeURL: string,
    readonly token: string,
  ) {}

  async #call(method: string, path: string, body?: unknown, expect = [200]): Promise<Response> {
    const res = await fetch(this.edgeURL + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!expect.includes(res.status)) throw new Error(`${method} ${path} answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
    return res;
  }

  async createTask(request: CreateTaskRequest): Promise<Task> {
    const res = await this.#call("POST", "/v1/tasks", request, [201]);
    return Task.parse(((await res.json()) as { task: unknown }).task);
  }

  async task(id: string): Promise<Task> {
    const res = await this.#call("GET", `/v1/tasks/${id}`);
    return Task.parse(((await res.json()) as { task: unknown }).task);
  }

  /** The whole log through `GET /events`, a page at a time. */
  async events(id: string): Promise<Event[]> {
    const all: Event[] = [];
    let after = 0;
    for (let page = 0; page < 100; page++) {
      const res = await this.#call("GET", `/v1/tasks/${id}/events?after=${after}&limit=1000`);
      const body = (await res.json()) as { events: unknown[]; nextAfter: number | null };
      const events = body.events.map((e) => Event.parse(e));
      all.push(...events);
      if (events.length === 0 || body.nextAfter === null || body.nextAfter === after) return all;
      after = body.nextAfter;
    }
    throw new Error(`GET /events of ${id} did not end within 100 pages`);
  }

  async message(id: string, text: string): Promise<void> {
    await this.#call("POST", `/v1/tasks/${id}/messages`, { text }, [202]);
  }

  async finish(id: string): Promise<void> {
    await this.#call("POST", `/v1/tasks/${id}/finish`, {}, [202]);
  }

  async cancel(id: string): Promise<void> {
    await this.#call("POST", `/v1/tasks/${id}/cancel`, {}, [202]);
  }

  /** Raises the task's budget limits (`PATCH /limits`); the task record as it now stands. */
  async raiseLimits(id: string, limits: Record<string, number>): Promise<Task> {
    const res = await this.#call("PATCH", `/v1/tasks/${id}/limits`, limits, [200]);
    return Task.parse(((await res.json()) as { task: unknown }).task);
  }

  /** Answers a pending approval (the phone's "yes", "no", "always", or "edit" with the plan's text). */
  async answerApproval(id: string, approvalID: string, answer: { decision: "yes" | "no" | "always" | "edit"; text?: string }): Promise<void> {
    await this.#call("POST", `/v1/tasks/${id}/approvals/${approvalID}`, answer, [202]);
  }

  /** Lets the task reach `host` (host, *.domain or host:port) for the rest of its run. */
  async allowEgress(id: string, host: string): Promise<void> {
    await this.#call("POST", `/v1/tasks/${id}/egress`, { host }, [202]);
  }

  async createEnvironment(request: Partial<EnvironmentRequest>): Promise<Environment> {
    const res = await this.#call("POST", "/v1/environments", request, [201]);
    return Environment.parse(((await res.json()) as { environment: unknown }).environment);
  }

  async artifact(id: string, name: string): Promise<string> {
    const res = await this.#call("GET", `/v1/tasks/${id}/artifacts/${name}`);
    return res.text();
  }
}
