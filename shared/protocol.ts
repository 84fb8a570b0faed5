/**
 * The Tether wire protocol: one discriminated union per socket and direction, named
 * `<From>To<To>`, with the socket as a suffix where a runner and the edge share two sockets.
 * The party that watches a task is the "viewer" (the web app, a phone, any SDK client).
 *
 *   viewer ──ws /v1/tasks/:id/ws?after=N──►  TaskRoom   ViewerToEdge / EdgeToViewer
 *   runner ──ws /v1/runner/connect────────►  Account    RunnerToEdgeControl / EdgeToRunnerControl
 *   runner ──ws /v1/runner/tasks/:id/ws───►  TaskRoom   RunnerToEdgeData / EdgeToRunnerData
 *   runner ──stdin / stdout JSON lines────►  worker     RunnerToWorker / WorkerToRunner
 *
 * A viewer opens a task's socket with `after=<last seq it holds>`; the TaskRoom sends every
 * stored event after it, then `replayed`, then live events, each exactly once per socket.
 *
 * A runner says `hello` on its control socket; the Account answers `welcome` and pushes
 * `assign` (a task under a lease, fenced by `epoch`). The runner answers `accept` or `reject`,
 * then opens the task's data socket and says `attach`; the TaskRoom answers `attached` with
 * the highest runner counter (`rseq`) it has stored for that epoch and every user command
 * after the runner's `afterCommandSeq`. The runner sends `events` batches, each event tagged
 * with its own per-task `rseq`; the TaskRoom stores them once, in order, and acks
 * cumulatively after the write. Follow-ups, finish and cancel reach the runner as `command`.
 *
 * The worker reads one `start` line, then `message`, `approval`, `cancel` and `budget.raised` lines; it writes agent events
 * as `{ wseq, type, data }` lines, `wseq` counting 1, 2, 3 … across the whole task (a resumed
 * worker continues the count it is given).
 *
 * Every socket takes `ping` and answers `pong`; every edge-to-client socket may carry an
 * `error` frame. Every message may carry `v` (absent means 1); a message of another version is
 * refused with an error frame `unsupported_version`. The subprotocol, ping text, close codes
 * and timings are in `sockets.ts`; the size bounds in `limits.ts`.
 */
import { z } from "zod";
import { BudgetLimits } from "./budget.ts";
import { ApprovalDecision, ApprovalID, TaskMode } from "./approvals.ts";
import { ErrorCode } from "./errors.ts";
import { AgentEventBody, Event, RunnerEventBody } from "./events.ts";
import { LIMITS } from "./limits.ts";
import { Effort, Labels, RepoRef, Task, TaskLimits, TaskStatus } from "./task.ts";

export const PROTOCOL_VERSION = 1;
const v = z.literal(PROTOCOL_VERSION).optional();
const taskID = z.string().min(1).max(64);
const epoch = z.number().int().positive();
const errorFrame = z.object({
  v,
  type: z.literal("error"),
  code: z.string(),
  message: z.string(),
  taskID: taskID.optional(),
});
export type ErrorFrame = z.infer<typeof errorFrame>;

export function errorFrameOf(code: ErrorCode, message: string, taskID?: string): ErrorFrame {
  return taskID === undefined ? { type: "error", code, message } : { type: "error", code, message, taskID };
}

const ping = z.object({ v, type: z.literal("ping") });
const pong = z.object({ v, type: z.literal("pong") });

// ── viewer ⇄ edge ────────────────────────────────────────────────────────────

export const ViewerToEdge = z.discriminatedUnion("type", [
  z.object({ v, type: z.literal("message"), text: z.string().trim().min(1).max(LIMITS.maxMessageChars) }),
  z.object({ v, type: z.literal("finish") }),
  z.object({ v, type: z.literal("cancel") }),
  /** The owner's answer to a pending approval (approvals.ts); `text` is the edited plan. */
  z.object({ v, type: z.literal("approval"), approvalID: ApprovalID, decision: ApprovalDecision, text: z.string().trim().min(1).max(32_000).optional() }),
  ping,
]);
export type ViewerToEdge = z.infer<typeof ViewerToEdge>;

export const EdgeToViewer = z.discriminatedUnion("type", [
  z.object({ v, type: z.literal("event"), event: Event }),
  z.object({ v, type: z.literal("events"), events: z.array(Event) }),
  /** Every stored event after `after=` has been sent; what follows is live. */
  z.object({ v, type: z.literal("replayed"), lastSeq: z.number().int().nonnegative(), status: TaskStatus }),
  pong,
  errorFrame,
]);
export type EdgeToViewer = z.infer<typeof EdgeToViewer>;

// ── runner ⇄ edge ────────────────────────────────────────────────────────────

export const HeldTask = z.object({ taskID, epoch });
export type HeldTask = z.infer<typeof HeldTask>;

/**
 * A union of event bodies with an envelope's fields added to each variant. Not an intersection
 * of envelope and union: zod parses an intersection twice and merges the two results, most
 * of a frame's parse at a human pace, when the code is cold (workerd allows zod no generated
 * code, and the runner runs without the optimizing compiler).
 */
function enveloped<T, E extends z.ZodRawShape>(union: z.ZodType<T> & { options: readonly z.ZodObject[] }, envelope: E) {
  const variants = union.options.map((body): z.ZodObject => body.extend(envelope)) as [z.ZodObject, ...z.ZodObject[]];
  return z.discriminatedUnion("type", variants) as unknown as z.ZodType<z.output<z.ZodObject<E>> & T>;
}

/** One event as the runner sends it: its own counter, when it happened, and the body. */
export const RunnerEvent = enveloped(RunnerEventBody, { rseq: z.number().int().positive(), ts: z.string().max(40) });
export type RunnerEvent = z.infer<typeof RunnerEvent>;

/** The control socket, runner to Account. */
export const RunnerToEdgeControl = z.discriminatedUnion("type", [
  z.object({
    v,
    type: z.literal("hello"),
    version: z.string().max(64),
    labels: Labels,
    capacity: z.number().int().min(0).max(256),
    /** Tasks the runner holds now, so the edge keeps their leases. */
    tasks: z.array(HeldTask).max(256),
    /** Why the runner takes no new tasks on its own account (its journal's disk is full, it is draining); absent when it takes them. */
    draining: z.string().min(1).max(500).optional(),
  }),
  z.object({ v, type: z.literal("heartbeat"), tasks: z.array(HeldTask).max(256) }),
  z.object({ v, type: z.literal("accept"), taskID, epoch }),
  z.object({ v, type: z.literal("reject"), taskID, epoch, reason: z.string().max(2000) }),
  ping,
]);
export type RunnerToEdgeControl = z.infer<typeof RunnerToEdgeControl>;

/** A task's data socket, runner to TaskRoom. */
export const RunnerToEdgeData = z.discriminatedUnion("type", [
  z.object({ v, type: z.literal("attach"), taskID, epoch, afterCommandSeq: z.number().int().nonnegative() }),
  z.object({ v, type: z.literal("events"), taskID, epoch, events: z.array(RunnerEvent).min(1).max(LIMITS.maxEventsPerBatch) }),
  ping,
]);
export type RunnerToEdgeData = z.infer<typeof RunnerToEdgeData>;

/** What a runner receives with an assignment: everything needed to run the task. */
export const Assignment = z.object({
  task: Task,
  epoch,
  leaseSeconds: z.number().int().positive(),
});
export type Assignment = z.infer<typeof Assignment>;

/** A user's command, as it stands in the task log. */
export const Command = z.discriminatedUnion("kind", [
  z.object({ seq: z.number().int().positive(), kind: z.literal("message"), text: z.string() }),
  /** Wrap the task up once the agent's current turn ends: commit, diff, push, succeeded. */
  z.object({ seq: z.number().int().positive(), kind: z.literal("finish") }),
  z.object({ seq: z.number().int().positive(), kind: z.literal("cancel") }),
  /** Let the task reach a host (host, *.domain or host:port) through its egress proxy for the rest of its run. */
  z.object({ seq: z.number().int().positive(), kind: z.literal("egress.allow"), host: z.string().min(1).max(300) }),
  /** The task's budget limits as they now stand (raised by a user): the runner applies them and a paused task goes on. */
  z.object({ seq: z.number().int().positive(), kind: z.literal("limits"), limits: BudgetLimits }),
  /** The answer to an approval the worker asked for: go ahead (with `text`, an edited plan) or not. */
  z.object({ seq: z.number().int().positive(), kind: z.literal("approval"), approvalID: ApprovalID, approved: z.boolean(), text: z.string().max(32_000).optional() }),
]);
export type Command = z.infer<typeof Command>;

/** The control socket, Account to runner. */
export const EdgeToRunnerControl = z.discriminatedUnion("type", [
  z.object({
    v,
    type: z.literal("welcome"),
    runnerID: z.string(),
    heartbeatSeconds: z.number().int().positive(),
    leaseSeconds: z.number().int().positive(),
  }),
  z.object({ v, type: z.literal("assign"), assignment: Assignment }),
  /** The assignment is withdrawn (lease lost, task cancelled or finished elsewhere): stop it. */
  z.object({ v, type: z.literal("revoke"), taskID, epoch, reason: z.string() }),
  pong,
  errorFrame,
]);
export type EdgeToRunnerControl = z.infer<typeof EdgeToRunnerControl>;

/** A task's data socket, TaskRoom to runner. */
export const EdgeToRunnerData = z.discriminatedUnion("type", [
  z.object({
    v,
    type: z.literal("attached"),
    taskID,
    epoch,
    /** The highest `rseq` stored for this epoch (0 if none): resend everything after it. */
    ackedRseq: z.number().int().nonnegative(),
    commands: z.array(Command),
  }),
  /** Every event up to and including `rseq` of `epoch` is stored. */
  z.object({ v, type: z.literal("ack"), taskID, epoch, rseq: z.number().int().nonnegative() }),
  z.object({ v, type: z.literal("command"), taskID, command: Command }),
  pong,
  errorFrame,
]);
export type EdgeToRunnerData = z.infer<typeof EdgeToRunnerData>;

// ── runner ⇄ worker (stdin / stdout JSON lines) ──────────────────────────────

/** What the worker needs to know of its task. */
export const WorkerTask = z.object({
  taskID,
  prompt: z.string(),
  model: z.string().optional(),
  effort: Effort.optional(),
  mode: TaskMode.optional(),
  limits: TaskLimits,
  repo: RepoRef.extend({ branch: z.string().optional() }),
});
export type WorkerTask = z.infer<typeof WorkerTask>;

export const RunnerToWorker = z.discriminatedUnion("type", [
  z.object({
    v,
    type: z.literal("start"),
    task: WorkerTask,
    /** The runner's model proxy: an HTTP endpoint on a unix socket, and this task's token for it. */
    proxy: z.object({ socketPath: z.string().min(1), token: z.string().min(1) }),
    /** Continue the conversation saved in the state directory instead of starting anew. */
    resume: z.boolean().default(false),
    /** The next line's `wseq` is this plus one. */
    lastWseq: z.number().int().nonnegative().default(0),
  }),
  z.object({ v, type: z.literal("message"), text: z.string().min(1).max(LIMITS.maxMessageChars) }),
  z.object({ v, type: z.literal("cancel") }),
  /** The task's budget was raised: a model call the proxy refused is made again. */
  z.object({ v, type: z.literal("budget.raised") }),
  /** The owner's answer to the worker's `approval.requested`. */
  z.object({ v, type: z.literal("approval"), approvalID: ApprovalID, approved: z.boolean(), text: z.string().max(32_000).optional() }),
]);
export type RunnerToWorker = z.input<typeof RunnerToWorker>;

/** One stdout line of the worker: an agent event with the worker's own sequence number. */
export const WorkerToRunner = enveloped(AgentEventBody, { v, wseq: z.number().int().positive() });
export type WorkerToRunner = z.infer<typeof WorkerToRunner>;

// ── parsing ──────────────────────────────────────────────────────────────────

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: ErrorFrame };

/**
 * Parses one frame or line: size bound, JSON, version, then the schema. Never throws; a
 * bad frame comes back as the error frame to answer with.
 */
export function parseFrame<S extends z.ZodType>(schema: S, raw: string | ArrayBuffer | Uint8Array, maxBytes: number): Parsed<z.infer<S>> {
  const text = typeof raw === "string" ? raw : new TextDecoder().decode(raw);
  // A string is measured only when it could be over: UTF-8 takes at most 3 bytes per UTF-16 unit.
  const bytes = typeof raw !== "string" ? raw.byteLength : raw.length * 3 > maxBytes ? new TextEncoder().encode(raw).byteLength : null;
  if (bytes !== null && bytes > maxBytes) {
    return { ok: false, error: errorFrameOf(ErrorCode.PayloadTooLarge, `frame of ${bytes} bytes is over the ${maxBytes} byte limit`) };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, error: errorFrameOf(ErrorCode.InvalidFrame, "frame is not JSON") };
  }
  if (typeof json === "object" && json !== null && "v" in json && json.v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      error: errorFrameOf(ErrorCode.UnsupportedVersion, `protocol version ${String(json.v)} is not supported (this side speaks ${PROTOCOL_VERSION})`),
    };
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    return { ok: false, error: errorFrameOf(ErrorCode.InvalidFrame, describeIssues(result.error)) };
  }
  return { ok: true, value: result.data };
}

/**
 * The `default` of a receiver's `switch` over a union: it compiles only when every frame type
 * has its case, so a frame added to a union cannot go unhandled.
 */
export function unhandledFrame(frame: never): never {
  throw new Error(`no case for frame ${JSON.stringify(frame)}`);
}

/** A short, client-safe description of what is wrong with a value. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}
