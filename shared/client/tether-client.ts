/**
 * The typed REST client for the edge's public routes. It needs only `fetch`, so it runs
 * unchanged in browsers, React Native, Node and Workers. Every response is parsed with the
 * shared schemas; an answer that does not fit them rejects with `invalid_response`.
 */
import { z } from "zod";
import {
  EnvironmentEnvelope,
  EnvironmentList,
  EventPage,
  Health,
  RegisterRunnerResponse,
  RegistrationTokenResponse,
  RunnerList,
  TaskEnvelope,
  TaskPage,
  type RegisterRunnerRequest,
  type RunnerInfo,
} from "../api.ts";
import { ErrorBody } from "../errors.ts";
import { describeIssues } from "../protocol.ts";
import type { Environment, EnvironmentRequest } from "../environment.ts";
import type { CreateTaskRequest, Task, TaskStatus } from "../task.ts";
import { TetherError } from "./errors.ts";
import { TaskStream, type TaskStreamOptions } from "./task-stream.ts";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TetherClientOptions {
  /** The edge, e.g. `https://tether.example.com` (no trailing path). */
  baseURL: string;
  /** A user token, or a function read before each request (so a new sign-in takes effect). */
  token?: string | (() => string | null | undefined);
  fetch?: FetchLike;
}

export interface ListTasksQuery {
  status?: TaskStatus;
  q?: string;
  limit?: number;
  cursor?: string;
}

export class TetherClient {
  readonly baseURL: string;
  readonly #token: () => string | null | undefined;
  readonly #fetch: FetchLike;

  constructor(options: TetherClientOptions) {
    this.baseURL = options.baseURL.replace(/\/+$/, "");
    const token = options.token;
    this.#token = typeof token === "function" ? token : () => token;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The current token, as the next request will send it. */
  get token(): string | null {
    return this.#token() ?? null;
  }

  async createTask(body: CreateTaskRequest): Promise<Task> {
    return (await this.#json("POST", "/v1/tasks", TaskEnvelope, body)).task;
  }

  async listTasks(query: ListTasksQuery = {}): Promise<TaskPage> {
    const { status, q, limit, cursor } = query;
    return this.#json("GET", `/v1/tasks${queryString({ status, q, limit, cursor })}`, TaskPage);
  }

  async getTask(taskID: string): Promise<Task> {
    return (await this.#json("GET", `/v1/tasks/${enc(taskID)}`, TaskEnvelope)).task;
  }

  async listEvents(taskID: string, query: { after?: number; limit?: number } = {}): Promise<EventPage> {
    return this.#json("GET", `/v1/tasks/${enc(taskID)}/events${queryString({ after: query.after ?? 0, limit: query.limit })}`, EventPage);
  }

  async sendMessage(taskID: string, text: string): Promise<void> {
    await this.#request("POST", `/v1/tasks/${enc(taskID)}/messages`, { text });
  }

  /** Wrap the task up after the agent's current turn: commit, diff, push, succeeded. */
  async finishTask(taskID: string): Promise<void> {
    await this.#request("POST", `/v1/tasks/${enc(taskID)}/finish`);
  }

  async cancelTask(taskID: string): Promise<void> {
    await this.#request("POST", `/v1/tasks/${enc(taskID)}/cancel`);
  }

  /** Lets the task reach `host` (host, *.domain or host:port) through its egress proxy for the rest of its run. */
  async allowEgress(taskID: string, host: string): Promise<void> {
    await this.#request("POST", `/v1/tasks/${enc(taskID)}/egress`, { host });
  }

  /** The account's saved environments, oldest first. */
  async listEnvironments(): Promise<Environment[]> {
    return (await this.#json("GET", "/v1/environments", EnvironmentList)).environments;
  }

  async createEnvironment(body: EnvironmentRequest): Promise<Environment> {
    return (await this.#json("POST", "/v1/environments", EnvironmentEnvelope, body)).environment;
  }

  /** Replaces every field of the environment. */
  async updateEnvironment(environmentID: string, body: EnvironmentRequest): Promise<Environment> {
    return (await this.#json("PUT", `/v1/environments/${enc(environmentID)}`, EnvironmentEnvelope, body)).environment;
  }

  async deleteEnvironment(environmentID: string): Promise<void> {
    await this.#request("DELETE", `/v1/environments/${enc(environmentID)}`);
  }

  /** An artifact as text (the final diff is `diff.patch`). */
  async getArtifact(taskID: string, name: string): Promise<string> {
    return (await this.#request("GET", `/v1/tasks/${enc(taskID)}/artifacts/${enc(name)}`)).text();
  }

  async health(): Promise<Health> {
    return this.#json("GET", "/healthz", Health);
  }

  async openAPI(): Promise<unknown> {
    return (await this.#request("GET", "/v1/openapi.json")).json();
  }

  async createRegistrationToken(): Promise<RegistrationTokenResponse> {
    return this.#json("POST", "/v1/runners/registration-tokens", RegistrationTokenResponse);
  }

  /** Exchanges a registration token for a runner credential (needs no user token). */
  async registerRunner(body: RegisterRunnerRequest): Promise<RegisterRunnerResponse> {
    return this.#json("POST", "/v1/runners/register", RegisterRunnerResponse, body);
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return (await this.#json("GET", "/v1/runners", RunnerList)).runners;
  }

  async revokeRunner(runnerID: string): Promise<void> {
    await this.#request("DELETE", `/v1/runners/${enc(runnerID)}`);
  }

  /** A live, resuming stream of a task's events (see `TaskStream`). */
  streamTask(taskID: string, options: Omit<TaskStreamOptions, "url" | "token" | "probe"> = {}): TaskStream {
    const url = `${this.baseURL.replace(/^http/, "ws")}/v1/tasks/${enc(taskID)}/ws`;
    return new TaskStream({ ...options, url, token: () => this.token, probe: () => this.getTask(taskID) });
  }

  async #json<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    const res = await this.#request(method, path, body);
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new TetherError(res.status, "invalid_response", `${method} ${path} answered with something that is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new TetherError(res.status, "invalid_response", `${method} ${path} answered an unexpected shape: ${describeIssues(parsed.error)}`);
    }
    return parsed.data;
  }

  async #request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = this.#token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(`${this.baseURL}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new TetherError(0, "network", `cannot reach the edge: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.ok) return res;
    throw await errorFrom(res);
  }
}

async function errorFrom(res: Response): Promise<TetherError> {
  const text = await res.text().catch(() => "");
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (parsed.success) return new TetherError(res.status, parsed.data.error.code, parsed.data.error.message);
  } catch {
    // Not JSON: fall through to a message made from the status.
  }
  return new TetherError(res.status, `http_${res.status}`, `the edge answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`);
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

/** `?a=1&b=x` of the set values; built by hand because React Native's URLSearchParams is partial. */
function queryString(query: Record<string, string | number | undefined>): string {
  const parts = Object.entries(query)
    .filter(([, value]) => value !== undefined && value !== "")
    .map(([key, value]) => `${enc(key)}=${enc(String(value))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}
