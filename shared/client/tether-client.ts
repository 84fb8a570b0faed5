/**
 * The typed REST client for the edge's public routes. It needs only `fetch`, so it runs
 * unchanged in browsers, React Native, Node and Workers. Every response is checked with the
 * client's `Checks` (the entry point picks them: `index.ts` the full zod schemas, `light.ts`
 * the plain shape checks); an answer that does not fit rejects with `invalid_response`.
 * Exports stream: each NDJSON line is checked as it arrives.
 */
import type {
  AccountExportLine,
  AccountSettings,
  ArtifactStored,
  EventPage,
  ExportLine,
  Health,
  ImportResult,
  RegisterRunnerRequest,
  RegisterRunnerResponse,
  RegistrationTokenResponse,
  RunnerInfo,
  TaskPage,
} from "../api.ts";
import type { RaiseLimitsRequest } from "../budget.ts";
import type { AnswerName, Answers, Checks } from "./checks.ts";
import type { AnswerApprovalRequest } from "../approvals.ts";
import type { Environment, EnvironmentRequest } from "../environment.ts";
import type { CreateTaskRequest, Task, TaskStatus } from "../task.ts";
import { TetherError } from "./errors.ts";
import { readLines } from "./ndjson.ts";
import { TaskStream, type TaskStreamOptions } from "./task-stream.ts";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TetherClientOptions {
  /** The edge, e.g. `https://tether.example.com` (no trailing path). */
  baseURL: string;
  /** A user token, or a function read before each request (so a new sign-in takes effect). */
  token?: string | (() => string | null | undefined);
  fetch?: FetchLike;
  /** How answers and frames are checked; each entry point (`index.ts`, `light.ts`) sets its own. */
  checks?: Checks;
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
  readonly #checks: Checks;

  constructor(options: TetherClientOptions & { checks: Checks }) {
    this.#checks = options.checks;
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
    return (await this.#json("POST", "/v1/tasks", "TaskEnvelope", body)).task;
  }

  async listTasks(query: ListTasksQuery = {}): Promise<TaskPage> {
    const { status, q, limit, cursor } = query;
    return this.#json("GET", `/v1/tasks${queryString({ status, q, limit, cursor })}`, "TaskPage");
  }

  async getTask(taskID: string): Promise<Task> {
    return (await this.#json("GET", `/v1/tasks/${enc(taskID)}`, "TaskEnvelope")).task;
  }

  async listEvents(taskID: string, query: { after?: number; limit?: number } = {}): Promise<EventPage> {
    return this.#json("GET", `/v1/tasks/${enc(taskID)}/events${queryString({ after: query.after ?? 0, limit: query.limit })}`, "EventPage");
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

  /** Answers the task's pending approval: yes, no or always; for a plan yes, edit (with the plan's text) or no. */
  async answerApproval(taskID: string, approvalID: string, answer: AnswerApprovalRequest): Promise<void> {
    await this.#request("POST", `/v1/tasks/${enc(taskID)}/approvals/${enc(approvalID)}`, answer);
  }

  /** Lets the task reach `host` (host, *.domain or host:port) through its egress proxy for the rest of its run. */
  async allowEgress(taskID: string, host: string): Promise<void> {
    await this.#request("POST", `/v1/tasks/${enc(taskID)}/egress`, { host });
  }

  /** Raises the task's budget limits (owner only, only upwards); a task paused at a reached limit goes on. */
  async raiseLimits(taskID: string, limits: RaiseLimitsRequest): Promise<Task> {
    return (await this.#json("PATCH", `/v1/tasks/${enc(taskID)}/limits`, "CommandAccepted", limits)).task;
  }

  /** The account's saved environments, oldest first. */
  async listEnvironments(): Promise<Environment[]> {
    return (await this.#json("GET", "/v1/environments", "EnvironmentList")).environments;
  }

  async createEnvironment(body: EnvironmentRequest): Promise<Environment> {
    return (await this.#json("POST", "/v1/environments", "EnvironmentEnvelope", body)).environment;
  }

  /** Replaces every field of the environment. */
  async updateEnvironment(environmentID: string, body: EnvironmentRequest): Promise<Environment> {
    return (await this.#json("PUT", `/v1/environments/${enc(environmentID)}`, "EnvironmentEnvelope", body)).environment;
  }

  async deleteEnvironment(environmentID: string): Promise<void> {
    await this.#request("DELETE", `/v1/environments/${enc(environmentID)}`);
  }

  /** An artifact as text (the final diff is `diff.patch`). */
  async getArtifact(taskID: string, name: string): Promise<string> {
    return (await this.#request("GET", `/v1/tasks/${enc(taskID)}/artifacts/${enc(name)}`)).text();
  }

  /** An artifact's bytes and media type. */
  async downloadArtifact(taskID: string, name: string): Promise<{ bytes: Uint8Array; contentType: string }> {
    const res = await this.#request("GET", `/v1/tasks/${enc(taskID)}/artifacts/${enc(name)}`);
    return { bytes: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get("content-type") ?? "application/octet-stream" };
  }

  /** Deletes a task whole (a running one is revoked first). */
  async deleteTask(taskID: string): Promise<void> {
    await this.#request("DELETE", `/v1/tasks/${enc(taskID)}`);
  }

  /** One task's export, line by line: the task, its events in `seq` order, its artifacts, `end`. */
  exportTask(taskID: string): AsyncGenerator<ExportLine> {
    return this.#ndjson(`/v1/tasks/${enc(taskID)}/export`, "ExportLine");
  }

  /** A page of the account's export; resume with a `cursor` line's cursor or the `page` line's `nextCursor`. */
  exportAccount(query: { cursor?: string; limit?: number } = {}): AsyncGenerator<AccountExportLine> {
    return this.#ndjson(`/v1/export${queryString({ cursor: query.cursor, limit: query.limit })}`, "AccountExportLine");
  }

  /** Imports one task's export; 409 `conflict` when it exists, unless `replace`. */
  async importTask(lines: Iterable<ExportLine>, options: { replace?: boolean } = {}): Promise<ImportResult> {
    let body = "";
    for (const line of lines) body += `${JSON.stringify(line)}\n`;
    const res = await this.#request("POST", `/v1/import${queryString({ replace: options.replace ? "true" : undefined })}`, undefined, {
      raw: body,
      contentType: "application/x-ndjson",
    });
    return this.#parse(res, "POST", "/v1/import", "ImportResult");
  }

  /** Uploads an imported task's artifact: the bytes its export listed (size and SHA-256 are checked). */
  async uploadImportedArtifact(taskID: string, name: string, bytes: Uint8Array): Promise<ArtifactStored> {
    const path = `/v1/tasks/${enc(taskID)}/artifacts/${enc(name)}`;
    const res = await this.#request("PUT", path, undefined, { raw: bytes, contentType: "application/octet-stream" });
    return this.#parse(res, "PUT", path, "ArtifactStored");
  }

  async getSettings(): Promise<AccountSettings> {
    return (await this.#json("GET", "/v1/settings", "SettingsEnvelope")).settings;
  }

  async putSettings(settings: AccountSettings): Promise<AccountSettings> {
    return (await this.#json("PUT", "/v1/settings", "SettingsEnvelope", settings)).settings;
  }

  async health(): Promise<Health> {
    return this.#json("GET", "/healthz", "Health");
  }

  async openAPI(): Promise<unknown> {
    return (await this.#request("GET", "/v1/openapi.json")).json();
  }

  async createRegistrationToken(): Promise<RegistrationTokenResponse> {
    return this.#json("POST", "/v1/runners/registration-tokens", "RegistrationTokenResponse");
  }

  /** Exchanges a registration token for a runner credential (needs no user token). */
  async registerRunner(body: RegisterRunnerRequest): Promise<RegisterRunnerResponse> {
    return this.#json("POST", "/v1/runners/register", "RegisterRunnerResponse", body);
  }

  async listRunners(): Promise<RunnerInfo[]> {
    return (await this.#json("GET", "/v1/runners", "RunnerList")).runners;
  }

  /** Drains a runner (`true`: it takes no new task) or undoes the drain. */
  async drainRunner(runnerID: string, draining = true): Promise<void> {
    await this.#request(draining ? "POST" : "DELETE", `/v1/runners/${enc(runnerID)}/drain`);
  }

  async revokeRunner(runnerID: string): Promise<void> {
    await this.#request("DELETE", `/v1/runners/${enc(runnerID)}`);
  }

  /** A live, resuming stream of a task's events (see `TaskStream`). */
  streamTask(taskID: string, options: Omit<TaskStreamOptions, "url" | "token" | "probe" | "checks"> = {}): TaskStream {
    const url = `${this.baseURL.replace(/^http/, "ws")}/v1/tasks/${enc(taskID)}/ws`;
    return new TaskStream({ ...options, url, token: () => this.token, probe: () => this.getTask(taskID), checks: this.#checks });
  }

  async #json<K extends AnswerName>(method: string, path: string, name: K, body?: unknown): Promise<Answers[K]> {
    return this.#parse(await this.#request(method, path, body), method, path, name);
  }

  async #parse<K extends AnswerName>(res: Response, method: string, path: string, name: K): Promise<Answers[K]> {
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new TetherError(res.status, "invalid_response", `${method} ${path} answered with something that is not JSON`);
    }
    const checked = this.#checks.answer(name, json);
    if (!checked.ok) throw new TetherError(res.status, "invalid_response", `${method} ${path} answered an unexpected shape: ${checked.problem}`);
    return checked.value;
  }

  /** An NDJSON answer, each line checked as `name` as it arrives. */
  async *#ndjson<K extends AnswerName>(path: string, name: K): AsyncGenerator<Answers[K]> {
    const res = await this.#request("GET", path);
    if (!res.body) throw new TetherError(res.status, "invalid_response", `GET ${path} answered with no body`);
    let n = 0;
    for await (const text of readLines(res.body, NDJSON_LINE_BYTES)) {
      n += 1;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new TetherError(res.status, "invalid_response", `GET ${path}: line ${n} is not JSON`);
      }
      const checked = this.#checks.answer(name, json);
      if (!checked.ok) throw new TetherError(res.status, "invalid_response", `GET ${path}: line ${n}: ${checked.problem}`);
      yield checked.value;
    }
  }

  /** A request with a JSON `body`, or a `raw` one sent as it is. */
  async #request(method: string, path: string, body?: unknown, raw?: RawBody): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    const token = this.#token();
    if (token) headers.authorization = `Bearer ${token}`;
    if (raw) headers["content-type"] = raw.contentType;
    else if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await this.#fetch(`${this.baseURL}${path}`, {
        method,
        headers,
        ...(raw ? { body: raw.raw as RequestInit["body"] } : body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new TetherError(0, "network", `cannot reach the edge: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (res.ok) return res;
    throw await this.#errorFrom(res);
  }

  async #errorFrom(res: Response): Promise<TetherError> {
    const text = await res.text().catch(() => "");
    try {
      const checked = this.#checks.answer("ErrorBody", JSON.parse(text));
      if (checked.ok) return new TetherError(res.status, checked.value.error.code, checked.value.error.message);
    } catch {
      // Not JSON: fall through to a message made from the status.
    }
    return new TetherError(res.status, `http_${res.status}`, `the edge answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`);
  }
}

/** An export line is at most about 1 MiB (a record with a long prompt); this leaves room. */
const NDJSON_LINE_BYTES = 4 * 1024 * 1024;

type RawBody = { raw: string | Uint8Array; contentType: string };

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
