/**
 * `GET /v1/openapi.json`: the public HTTP contract, generated from the shared zod schemas
 * so it cannot drift from what the routes parse.
 */
import { z } from "zod";
import {
  AnswerApprovalRequest,
  AccountExportLine,
  AccountSettings,
  ArtifactEntry,
  ArtifactStored,
  CommandAccepted,
  CreateTaskRequest,
  EnvironmentEnvelope,
  EnvironmentList,
  EnvironmentRequest,
  ErrorBody,
  Event,
  EventPage,
  ExportLine,
  Health,
  EgressAllowRequest,
  ImportResult,
  MessageRequest,
  PushKey,
  RaiseLimitsRequest,
  PushPayload,
  PushSubscriptionRequest,
  PushUnsubscribeRequest,
  RegisterRunnerRequest,
  RegisterRunnerResponse,
  RegistrationTokenResponse,
  RunnerInfo,
  RunnerList,
  SettingsEnvelope,
  Task,
  TaskEnvelope,
  TaskPage,
  TaskStatus,
} from "../../shared/index.ts";

const SCHEMAS = {
  Task,
  Event,
  CreateTaskRequest,
  EgressAllowRequest,
  AnswerApprovalRequest,
  MessageRequest,
  RaiseLimitsRequest,
  ErrorBody,
  RegistrationTokenResponse,
  RegisterRunnerRequest,
  RegisterRunnerResponse,
  RunnerInfo,
  TaskPage,
  EventPage,
  TaskEnvelope,
  CommandAccepted,
  RunnerList,
  ArtifactStored,
  Health,
  ArtifactEntry,
  ExportLine,
  AccountExportLine,
  ImportResult,
  AccountSettings,
  SettingsEnvelope,
  EnvironmentRequest,
  EnvironmentEnvelope,
  EnvironmentList,
  PushKey,
  PushSubscriptionRequest,
  PushUnsubscribeRequest,
  PushPayload,
};

type SchemaName = keyof typeof SCHEMAS;
type Op = {
  summary: string;
  auth?: "user" | "runner" | "none";
  body?: SchemaName;
  ok: [number, SchemaName | null];
  query?: Record<string, string>;
  /** Which of the body and the answer is NDJSON (one value of its schema a line) rather than JSON. */
  ndjson?: "body" | "answer";
};

const ref = (name: SchemaName) => ({ $ref: `#/components/schemas/${name}` });

const ROUTES: Record<string, Record<string, Op>> = {
  "/healthz": { get: { summary: "Liveness", auth: "none", ok: [200, "Health"] } },
  "/v1/tasks": {
    post: { summary: "Create a task (queued)", body: "CreateTaskRequest", ok: [201, "TaskEnvelope"] },
    get: {
      summary: "List tasks, newest first",
      ok: [200, "TaskPage"],
      query: { status: `one of ${TaskStatus.options.join(", ")}`, q: "search title and prompt", limit: "1-100", cursor: "nextCursor of the previous page" },
    },
  },
  "/v1/tasks/{id}": {
    get: { summary: "Read a task", ok: [200, "TaskEnvelope"] },
    delete: { summary: "Delete a task whole: a running one is revoked first; its log, artifacts and index entry go", ok: [204, null] },
  },
  "/v1/tasks/{id}/export": { get: { summary: "Export a task as NDJSON: task, events in seq order, artifacts, end", ok: [200, "ExportLine"], ndjson: "answer" } },
  "/v1/export": {
    get: {
      summary: "Export a page of the account's tasks as NDJSON, each followed by a cursor line; last a page line",
      ok: [200, "AccountExportLine"],
      ndjson: "answer",
      query: { cursor: "a cursor line's cursor, or the page line's nextCursor", limit: "tasks per page, 1-100 (default 20)" },
    },
  },
  "/v1/import": {
    post: {
      summary: "Import one task's export (NDJSON); 409 if the task exists unless replace=true",
      body: "ExportLine",
      ok: [201, "ImportResult"],
      ndjson: "body",
      query: { replace: "true to delete an existing task of the same id first" },
    },
  },
  "/v1/settings": {
    get: { summary: "The account's settings", ok: [200, "SettingsEnvelope"] },
    put: { summary: "Set the account's settings (retentionDays: null keeps tasks for ever)", body: "AccountSettings", ok: [200, "SettingsEnvelope"] },
  },
  "/v1/tasks/{id}/events": {
    get: { summary: "Events with seq > after", ok: [200, "EventPage"], query: { after: "last seq held (default 0)", limit: "1-1000" } },
  },
  "/v1/tasks/{id}/ws": {
    get: { summary: "Viewer WebSocket: replay after=N, then live (see docs/api.md)", ok: [101, null], query: { after: "last seq held" } },
  },
  "/v1/tasks/{id}/messages": { post: { summary: "Send a follow-up", body: "MessageRequest", ok: [202, "CommandAccepted"] } },
  "/v1/tasks/{id}/finish": { post: { summary: "Wrap the task up after the agent's current turn: commit, diff, push, succeeded", ok: [202, "CommandAccepted"] } },
  "/v1/tasks/{id}/cancel": { post: { summary: "Cancel the task", ok: [202, "CommandAccepted"] } },
  "/v1/tasks/{id}/limits": {
    patch: { summary: "Raise the task's budget limits (owner only, only upwards); a task paused at a reached limit goes on", body: "RaiseLimitsRequest", ok: [200, "CommandAccepted"] },
  },
  "/v1/tasks/{id}/egress": {
    post: { summary: "Let the task reach a host through its egress proxy for the rest of its run", body: "EgressAllowRequest", ok: [202, "CommandAccepted"] },
  },
  "/v1/tasks/{id}/approvals/{approvalID}": {
    post: { summary: "Answer the task's pending approval: yes, no, always (a command or a file), or yes, edit with text, no (a plan)", body: "AnswerApprovalRequest", ok: [202, "CommandAccepted"] },
  },
  "/v1/tasks/{id}/artifacts/{name}": {
    get: { summary: "Download an artifact (the final diff is diff.patch)", ok: [200, null] },
    put: { summary: "Upload an imported task's artifact: only a name its export listed, with that size and SHA-256", ok: [201, "ArtifactStored"] },
  },
  "/v1/environments": {
    get: { summary: "List the account's saved environments, oldest first", ok: [200, "EnvironmentList"] },
    post: { summary: "Save an environment (repository match, setup script, network policy, non-secret variables)", body: "EnvironmentRequest", ok: [201, "EnvironmentEnvelope"] },
  },
  "/v1/environments/{id}": {
    put: { summary: "Replace a saved environment's fields", body: "EnvironmentRequest", ok: [200, "EnvironmentEnvelope"] },
    delete: { summary: "Delete a saved environment (tasks keep their copy)", ok: [204, null] },
  },
  "/v1/push/key": { get: { summary: "The edge's VAPID public key (applicationServerKey); 404 when push is not configured", ok: [200, "PushKey"] } },
  "/v1/push/subscriptions": {
    post: { summary: "Opt this device in to push: a PushSubscription (https endpoint, or http to a loopback host)", body: "PushSubscriptionRequest", ok: [204, null] },
    delete: { summary: "Opt a device out: forget the subscription of this endpoint", body: "PushUnsubscribeRequest", ok: [204, null] },
  },
  "/v1/runners": { get: { summary: "List runners", ok: [200, "RunnerList"] } },
  "/v1/runners/registration-tokens": { post: { summary: "Make a single-use registration token (1 h)", ok: [201, "RegistrationTokenResponse"] } },
  "/v1/runners/register": {
    post: { summary: "Exchange a registration token for a runner credential", auth: "none", body: "RegisterRunnerRequest", ok: [201, "RegisterRunnerResponse"] },
  },
  "/v1/runners/{id}": { delete: { summary: "Delete a runner: its credential and sockets stop at once", ok: [204, null] } },
  "/v1/runners/{id}/drain": {
    post: { summary: "Drain a runner: it keeps what it holds and gets no new task", ok: [204, null] },
    delete: { summary: "Undo a drain: the runner takes tasks again", ok: [204, null] },
  },
  "/v1/runner/connect": { get: { summary: "Runner control WebSocket", auth: "runner", ok: [101, null] } },
  "/v1/runner/tasks/{id}/ws": { get: { summary: "Runner data WebSocket of a task it holds", auth: "runner", ok: [101, null] } },
  "/v1/runner/tasks/{id}/artifacts/{name}": {
    put: { summary: "Upload an artifact under a live lease", auth: "runner", ok: [201, "ArtifactStored"], query: { epoch: "the assignment's epoch" } },
  },
};

function operation(path: string, op: Op): Record<string, unknown> {
  const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: "path", required: true, schema: { type: "string" } }));
  for (const [name, description] of Object.entries(op.query ?? {})) params.push({ name, in: "query", required: false, description, schema: { type: "string" } } as never);
  const auth = op.auth ?? "user";
  const [status, schema] = op.ok;
  const media = (part: "body" | "answer") => (op.ndjson === part ? "application/x-ndjson" : "application/json");
  return {
    summary: op.summary,
    ...(params.length ? { parameters: params } : {}),
    ...(auth === "none" ? { security: [] } : { security: [{ [auth === "user" ? "userToken" : "runnerCredential"]: [] }] }),
    ...(op.body ? { requestBody: { required: true, content: { [media("body")]: { schema: ref(op.body) } } } } : {}),
    responses: {
      [status]: { description: "success", ...(schema ? { content: { [media("answer")]: { schema: ref(schema) } } } : {}) },
      "4XX": { description: "client error", content: { "application/json": { schema: ref("ErrorBody") } } },
    },
  };
}

let cached: Record<string, unknown> | null = null;

/** The document, built once per isolate. */
export function openAPIDocument(): Record<string, unknown> {
  cached ??= buildDocument();
  return cached;
}

function buildDocument(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    schemas[name] = json;
  }
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [path, ops] of Object.entries(ROUTES)) {
    paths[path] = Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, operation(path, op)]));
  }
  return {
    openapi: "3.1.0",
    info: { title: "Tether edge API", version: "1" },
    paths,
    components: {
      schemas,
      securitySchemes: {
        userToken: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        runnerCredential: { type: "http", scheme: "bearer", description: "trc_… runner credential" },
      },
    },
  };
}
