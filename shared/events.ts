/**
 * The task event log: one ordered stream per task, sequenced by its TaskRoom.
 *
 * An event is `{ seq, ts, type, data }`. `seq` is 1, 2, 3 … with no gaps. Events come from
 * the edge (`status` for queued/assigned/lost, `user.message`, `user.finish`, `user.cancel`,
 * `user.egress`, `budget.raised`, `approval.answered`, `approval.expired`, and `log` when the task's runner goes unreachable and comes back) and from the runner (the agent's words and tools relayed from the worker,
 * `status` for running/waiting/terminal states, `diff`, `log`, the setup phase's `setup.*`,
 * each network attempt's `egress`, `budget.reached`). Clients must ignore event types they do not know.
 */
import { z } from "zod";
import { LIMITS } from "./limits.ts";
import { BudgetRaisedData, BudgetReachedData } from "./budget.ts";
import { ApprovalDecision, ApprovalID, ApprovalKind } from "./approvals.ts";
import { ChangedFile, DiffStat, TaskStatus } from "./task.ts";

const callID = z.string().min(1).max(128);
const turn = z.number().int().nonnegative().max(LIMITS.maxTurn);
const callTokens = z.number().int().nonnegative().max(LIMITS.maxCallTokens);
/** A process's exit status (any 32-bit value a platform reports). */
const exitCode = z.number().int().min(-(2 ** 31)).max(2 ** 32 - 1);

export const StatusData = z.object({
  status: TaskStatus,
  reason: z.string().max(2000).optional(),
  runnerID: z.string().optional(),
  exitCode: exitCode.nullable().optional(),
});

/** The data of each event type; the single source for the edge, the runner and the worker. */
export const EVENT_DATA = {
  status: StatusData,
  "user.message": z.object({ text: z.string(), by: z.string() }),
  /** The user is content: the runner wraps the task up (commit, diff, push) after the current turn. */
  "user.finish": z.object({ by: z.string() }),
  "user.cancel": z.object({ by: z.string() }),
  /** A piece of assistant text as the model streams it. */
  "agent.text.delta": z.object({ turn, text: z.string() }),
  /** The whole text of one assistant message. */
  "agent.text": z.object({ turn, text: z.string() }),
  /** The model's reasoning as it returns it (summarized thinking, its notes between tool calls). */
  "agent.thinking": z.object({ turn, text: z.string() }),
  /** The conversation neared the model's context window: the agent summarised it and went on from the summary. */
  "context.compacted": z.object({
    turn,
    /** The prompt's tokens when the agent compacted (the last call's, or what the API said was too long). */
    tokensBefore: z.number().int().nonnegative(),
    /** The prompt's tokens of the first call after the summary. */
    tokensAfter: z.number().int().nonnegative(),
  }),
  "tool.start": z.object({ callID, name: z.string().min(1).max(128), input: z.record(z.string(), z.unknown()) }),
  /** Command output as it arrives, at most `LIMITS.outputChunkBytes` per event. */
  "tool.output": z.object({ callID, stream: z.enum(["stdout", "stderr"]), text: z.string() }),
  "tool.end": z.object({
    callID,
    ok: z.boolean(),
    summary: z.string().max(4000),
    exitCode: exitCode.nullable().optional(),
  }),
  "file.changed": z.object({ path: z.string().min(1).max(4096), change: z.enum(["created", "modified", "deleted"]) }),
  /** Tokens and cost of one model call; the cost is null when the model has no known price. */
  usage: z.object({
    model: z.string(),
    inputTokens: callTokens,
    outputTokens: callTokens,
    cacheReadTokens: callTokens,
    cacheWriteTokens: callTokens,
    costUSD: z.number().nonnegative().max(LIMITS.maxCallCostUSD).nullable(),
  }),
  /** The agent finished a turn and waits for a follow-up. */
  "turn.end": z.object({ turn, stopReason: z.string() }),
  error: z.object({ code: z.string(), message: z.string().max(8000) }),
  /** The agent is done; the runner follows with `diff` and a terminal `status`. */
  done: z.object({ ok: z.boolean(), summary: z.string().max(8000) }),
  /** The change the task made, uploaded as the artifact it names. */
  diff: DiffStat.extend({
    artifact: z.string(),
    changedFiles: z.array(ChangedFile).max(1000),
    branch: z.string().optional(),
    pushed: z.boolean().optional(),
  }),
  /** A setup step starts (`state: "started"`) or ends with its exit code and duration. */
  "setup.step": z.object({
    step: z.number().int().positive(),
    command: z.string().max(8000),
    source: z.enum(["request", "environment", "repository"]),
    state: z.enum(["started", "ended"]),
    exitCode: z.number().int().nullable().optional(),
    durationMs: z.number().int().nonnegative().optional(),
  }),
  /** A setup step's output as it arrives, at most `LIMITS.outputChunkBytes` per event. */
  "setup.output": z.object({ step: z.number().int().positive(), stream: z.enum(["stdout", "stderr"]), text: z.string() }),
  /** The setup is over: it ran (or failed at `step`), or a cached result was restored (`cache: "hit"`). */
  "setup.done": z.object({
    ok: z.boolean(),
    cache: z.enum(["hit", "miss", "off"]),
    durationMs: z.number().int().nonnegative(),
    /** A hit: how long the setup the cache replaced took. */
    savedMs: z.number().int().nonnegative().optional(),
    step: z.number().int().positive().optional(),
    exitCode: z.number().int().nullable().optional(),
    reason: z.string().max(8000).optional(),
  }),
  /** One attempt to reach the network through the task's egress proxy. */
  egress: z.object({
    phase: z.enum(["setup", "agent"]),
    host: z.string().max(300),
    port: z.number().int().min(0).max(65535),
    allowed: z.boolean(),
    bytes: z.number().int().nonnegative(),
    reason: z.string().max(2000).optional(),
  }),
  /** A user let the task reach a host (a rule: host, *.domain or host:port) for the rest of its run. */
  "user.egress": z.object({ host: z.string().max(300), by: z.string() }),
  /** The task reached one of its limits and waits, paused, for its owner to raise it (budget.ts). */
  "budget.reached": BudgetReachedData,
  /** A user raised the task's limits; a task paused at one goes on. */
  "budget.raised": BudgetRaisedData,
  /** The agent asks its owner before a step (approvals.ts); the TaskRoom holds the question until an answer or its expiry. */
  "approval.requested": z.object({ approvalID: ApprovalID, kind: ApprovalKind, subject: z.string().max(8000) }),
  /** A viewer answered (`by` a user), or an "always" rule did (`rule` names it). */
  "approval.answered": z.object({
    approvalID: ApprovalID,
    decision: ApprovalDecision,
    by: z.string(),
    text: z.string().max(32_000).optional(),
    rule: z.string().max(300).optional(),
  }),
  /** Nobody answered in time: the question counts as no. */
  "approval.expired": z.object({ approvalID: ApprovalID, afterSeconds: z.number().int().nonnegative() }),
  /** Progress from the runner itself (cloning, starting the container). */
  log: z.object({ level: z.enum(["info", "warn", "error"]), message: z.string().max(8000) }),
} as const;

export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

function variants<const T extends readonly EventType[]>(types: T) {
  return types.map((type) => z.object({ type: z.literal(type), data: EVENT_DATA[type] })) as unknown as {
    [K in keyof T]: z.ZodObject<{ type: z.ZodLiteral<T[K]>; data: (typeof EVENT_DATA)[T[K]] }>;
  };
}

/** `{ type, data }` of any event. */
export const EventBody = z.discriminatedUnion("type", variants(EVENT_TYPES as [EventType, ...EventType[]]));
export type EventBody = z.infer<typeof EventBody>;

/** The envelope every stored event has. */
export const Event = z.object({
  seq: z.number().int().positive(),
  ts: z.string(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type Event = z.infer<typeof Event>;

/** Event types the agent inside the container may emit. */
export const AGENT_EVENT_TYPES = [
  "agent.text.delta",
  "agent.text",
  "agent.thinking",
  "context.compacted",
  "tool.start",
  "tool.output",
  "tool.end",
  "file.changed",
  "usage",
  "turn.end",
  "error",
  "done",
  "approval.requested",
] as const satisfies readonly EventType[];
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];
export const AgentEventBody = z.discriminatedUnion("type", variants(AGENT_EVENT_TYPES));
export type AgentEventBody = z.infer<typeof AgentEventBody>;

/** Event types a runner may put into a task's log (everything but what users do). */
export const RUNNER_EVENT_TYPES = [...AGENT_EVENT_TYPES, "status", "diff", "log", "setup.step", "setup.output", "setup.done", "egress", "budget.reached"] as const satisfies readonly EventType[];
export const RunnerEventBody = z.discriminatedUnion("type", variants(RUNNER_EVENT_TYPES));
export type RunnerEventBody = z.infer<typeof RunnerEventBody>;

/** Statuses a runner may report; the edge sets queued, assigned and lost itself. */
export const RUNNER_STATUSES: readonly TaskStatus[] = ["running", "waiting", "succeeded", "failed", "cancelled"];
