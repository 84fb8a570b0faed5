/**
 * The REST contract beyond the task record itself: the response envelope of every route
 * (the routes build them with `satisfies`, `edge/routes/openapi.ts` publishes them, the client
 * SDK parses answers with them), the bodies of runner registration and the registry, and
 * the lines of an export (which an import takes back) and the account's settings.
 * Task requests (`CreateTaskRequest`, `MessageRequest`) are in `task.ts`.
 */
import { z } from "zod";
import { Event } from "./events.ts";
import { Environment } from "./environment.ts";
import { Labels, Task } from "./task.ts";

// ── tasks ────────────────────────────────────────────────────────────────────

/** `POST /v1/tasks` (201) and `GET /v1/tasks/:id`. */
export const TaskEnvelope = z.object({ task: Task });
export type TaskEnvelope = z.infer<typeof TaskEnvelope>;

/** `GET /v1/tasks`: newest first; `nextCursor` is opaque, null on the last page. */
export const TaskPage = z.object({ tasks: z.array(Task), nextCursor: z.string().nullable() });
export type TaskPage = z.infer<typeof TaskPage>;

/** `GET /v1/tasks/:id/events`: events with `seq > after`; `nextAfter` is the next `after` to ask with. */
export const EventPage = z.object({ events: z.array(Event), nextAfter: z.number().int().nonnegative() });
export type EventPage = z.infer<typeof EventPage>;

/** `POST /v1/tasks/:id/messages`, `/finish`, `/cancel` (202): the command's `seq` in the log. */
export const CommandAccepted = z.object({ seq: z.number().int().positive(), task: Task });
export type CommandAccepted = z.infer<typeof CommandAccepted>;

/** `PUT /v1/runner/tasks/:id/artifacts/:name` (201). */
export const ArtifactStored = z.object({ name: z.string(), size: z.number().int().nonnegative() });
export type ArtifactStored = z.infer<typeof ArtifactStored>;

/** `GET /healthz`. */
export const Health = z.object({ ok: z.literal(true) });
export type Health = z.infer<typeof Health>;

// ── your data: export, import, settings ───────────────────────────────────────

/** The format an export names in its first line; an import refuses any other. */
export const EXPORT_FORMAT = "tether.export.v1";

/** An artifact as an export lists it (the bytes download from `/v1/tasks/:id/artifacts/:name`). */
export const ArtifactEntry = z.object({
  name: z.string().min(1).max(100),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits"),
  contentType: z.string().max(200).regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, "a media type"),
});
export type ArtifactEntry = z.infer<typeof ArtifactEntry>;

const TaskLine = z.object({ kind: z.literal("task"), format: z.literal(EXPORT_FORMAT), task: Task });
const EventLine = z.object({ kind: z.literal("event"), event: Event });
const ArtifactLine = z.object({ kind: z.literal("artifact"), artifact: ArtifactEntry });
/** Closes one task's lines; a stream cut short has none. */
const EndLine = z.object({
  kind: z.literal("end"),
  taskID: z.string(),
  events: z.number().int().nonnegative(),
  artifacts: z.number().int().nonnegative(),
});

/**
 * One line of `GET /v1/tasks/:id/export` (NDJSON): the task, its events in `seq` order,
 * its artifacts, then `end`. `POST /v1/import` takes the same lines back.
 */
export const ExportLine = z.discriminatedUnion("kind", [TaskLine, EventLine, ArtifactLine, EndLine]);
export type ExportLine = z.infer<typeof ExportLine>;

/**
 * One line of `GET /v1/export` (NDJSON): the lines of each task, each task followed by a
 * `cursor` to resume after it, and last a `page` line with the next page's cursor (null
 * when every task has been sent).
 */
export const AccountExportLine = z.discriminatedUnion("kind", [
  TaskLine,
  EventLine,
  ArtifactLine,
  EndLine,
  z.object({ kind: z.literal("cursor"), cursor: z.string() }),
  z.object({ kind: z.literal("page"), nextCursor: z.string().nullable() }),
]);
export type AccountExportLine = z.infer<typeof AccountExportLine>;

/** `POST /v1/import` (201): the task as imported, and the artifacts it still waits for. */
export const ImportResult = z.object({ task: Task, missingArtifacts: z.array(z.string()) });
export type ImportResult = z.infer<typeof ImportResult>;

/** An account's settings: `retentionDays` null keeps tasks for ever. */
export const AccountSettings = z
  .object({ retentionDays: z.number().int().min(1).max(36_500).nullable() })
  .strict();
export type AccountSettings = z.infer<typeof AccountSettings>;

/** `GET` and `PUT /v1/settings`. */
export const SettingsEnvelope = z.object({ settings: AccountSettings });
export type SettingsEnvelope = z.infer<typeof SettingsEnvelope>;

// ── runners ──────────────────────────────────────────────────────────────────

export const RunnerName = z.string().trim().min(1).max(64);

/** `POST /v1/runners/registration-tokens` (user) → a single-use token, valid under an hour. */
export const RegistrationTokenResponse = z.object({ token: z.string(), expiresAt: z.string() });
export type RegistrationTokenResponse = z.infer<typeof RegistrationTokenResponse>;

/** `POST /v1/runners/register` (no credential but the registration token). */
export const RegisterRunnerRequest = z
  .object({
    token: z.string().min(1).max(512),
    name: RunnerName.optional(),
    labels: Labels.optional(),
    capacity: z.number().int().min(1).max(256).optional(),
  })
  .strict();
export type RegisterRunnerRequest = z.infer<typeof RegisterRunnerRequest>;

/** The runner credential is opaque to the runner; the edge stores only its hash. */
export const RegisterRunnerResponse = z.object({ runner: z.object({ id: z.string() }), credential: z.string() });
export type RegisterRunnerResponse = z.infer<typeof RegisterRunnerResponse>;

export const RunnerInfo = z.object({
  id: z.string(),
  name: z.string(),
  labels: z.array(z.string()),
  capacity: z.number().int(),
  online: z.boolean(),
  /** Drained: it keeps the tasks it holds and is handed no new one. */
  draining: z.boolean(),
  /** Why the runner itself takes no new task (its journal's disk is full, it is draining to stop); absent when it takes them or is offline. */
  drainingReason: z.string().optional(),
  lastSeenAt: z.string().nullable(),
  runningTasks: z.array(z.string()),
  version: z.string().nullable(),
  createdAt: z.string(),
});
export type RunnerInfo = z.infer<typeof RunnerInfo>;

/** `GET /v1/runners`. */
export const RunnerList = z.object({ runners: z.array(RunnerInfo) });
export type RunnerList = z.infer<typeof RunnerList>;

// ── environments ─────────────────────────────────────────────────────────────

/** `POST /v1/environments` (201), `PUT /v1/environments/:id`. */
export const EnvironmentEnvelope = z.object({ environment: Environment });
export type EnvironmentEnvelope = z.infer<typeof EnvironmentEnvelope>;

/** `GET /v1/environments`: oldest first. */
export const EnvironmentList = z.object({ environments: z.array(Environment) });
export type EnvironmentList = z.infer<typeof EnvironmentList>;

// ── push notifications ───────────────────────────────────────────────────────

/** True for a push service URL the edge may post to: https, or http to a loopback host (a local stand-in). */
export function isPushEndpoint(endpoint: string): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  if (url.protocol === "https:") return true;
  return url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
}

const PushEndpoint = z.string().max(2048).refine(isPushEndpoint, "an https URL (http only to 127.0.0.1, [::1] or localhost)");

/**
 * `POST /v1/push/subscriptions`: a browser's `PushSubscription.toJSON()`. `p256dh` is the
 * device's P-256 public key (65 bytes), `auth` its 16-byte secret, both base64url.
 */
export const PushSubscriptionRequest = z.object({
  endpoint: PushEndpoint,
  expirationTime: z.number().nullable().optional(),
  keys: z.object({
    p256dh: z.string().regex(/^B[A-Za-z0-9_-]{86}$/, "an uncompressed P-256 public key, base64url (87 characters)"),
    auth: z.string().regex(/^[A-Za-z0-9_-]{22}$/, "16 bytes, base64url (22 characters)"),
  }),
});
export type PushSubscriptionRequest = z.infer<typeof PushSubscriptionRequest>;

/** `DELETE /v1/push/subscriptions`: the endpoint of the subscription to forget. */
export const PushUnsubscribeRequest = z.object({ endpoint: z.string().min(1).max(2048) }).strict();
export type PushUnsubscribeRequest = z.infer<typeof PushUnsubscribeRequest>;

/** `GET /v1/push/key`: the edge's VAPID public key, the browser's `applicationServerKey`. */
export const PushKey = z.object({ publicKey: z.string() });
export type PushKey = z.infer<typeof PushKey>;

/** What a push carries (encrypted): the service worker shows `title` and `body` and opens `url`. */
export const PushPayload = z.object({ taskID: z.string(), title: z.string(), body: z.string(), url: z.string() });
export type PushPayload = z.infer<typeof PushPayload>;
