/**
 * The task event log: one ordered stream per task, sequenced by its TaskRoom.
 *
 * An event is `{ seq, ts, type, data }`. `seq` is 1, 2, 3 … with no gaps. Events come from
 * the edge (`status` for queued/assigned/lost, `user.message`, `user.finish`, `user.cancel`) and from the
 * runner (the agent's words and tools relayed from the worker, `status` for running/waiting/
 * terminal states, `diff`, `log`). Clients must ignore event types they do not know.
 */
import { z } from "zod";
import { LIMITS } from "./limits.ts";
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
  /** Tokens and cost of one model call. */
  usage: z.object({
    model: z.string(),
    inputTokens: callTokens,
    outputTokens: callTokens,
    cacheReadTokens: callTokens,
    cacheWriteTokens: callTokens,
    costUSD: z.number().nonnegative().max(LIMITS.maxCallCostUSD),
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
  "tool.start",
  "tool.output",
  "tool.end",
  "file.changed",
  "usage",
  "turn.end",
  "error",
  "done",
] as const satisfies readonly EventType[];
export type AgentEventType = (typeof AGENT_EVENT_TYPES)[number];
export const AgentEventBody = z.discriminatedUnion("type", variants(AGENT_EVENT_TYPES));
export type AgentEventBody = z.infer<typeof AgentEventBody>;

/** Event types a runner may put into a task's log (everything but what users do). */
export const RUNNER_EVENT_TYPES = [...AGENT_EVENT_TYPES, "status", "diff", "log"] as const satisfies readonly EventType[];
export const RunnerEventBody = z.discriminatedUnion("type", variants(RUNNER_EVENT_TYPES));
export type RunnerEventBody = z.infer<typeof RunnerEventBody>;

/** Statuses a runner may report; the edge sets queued, assigned and lost itself. */
export const RUNNER_STATUSES: readonly TaskStatus[] = ["running", "waiting", "succeeded", "failed", "cancelled"];
