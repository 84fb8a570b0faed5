/**
 * The task record and the public request bodies that create and steer a task.
 */
import { z } from "zod";
import { LIMITS } from "./limits.ts";

export const TaskStatus = z.enum([
  "queued",
  "assigned",
  "running",
  "waiting",
  "succeeded",
  "failed",
  "cancelled",
  "lost",
]);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const TERMINAL_STATUSES: readonly TaskStatus[] = ["succeeded", "failed", "cancelled", "lost"];
export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export const Label = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.:-]*$/, "labels are letters, digits and _ . : -");
export const Labels = z.array(Label).max(LIMITS.maxLabels);

export const TaskLimits = z
  .object({
    maxTurns: z.number().int().min(1).max(1000).optional(),
    maxTokens: z.number().int().min(1).max(100_000_000).optional(),
    maxCostUSD: z.number().positive().max(10_000).optional(),
    timeoutMinutes: z.number().int().min(1).max(24 * 60).optional(),
    /** The container's memory; the runner caps it at its own configured maximum. */
    memoryMB: z.number().int().min(64).max(1_048_576).optional(),
    /** The container's CPUs; the runner caps it at its own configured maximum. */
    cpus: z.number().positive().max(1024).optional(),
  })
  .strict();
export type TaskLimits = z.infer<typeof TaskLimits>;

/** A branch, tag or commit name git can never read as an option or a refspec: no leading '-', no ':', '..', spaces or '~^{'. */
export const GIT_REF_PATTERN = /^(?!-)(?!.*\.\.)[\w./+@-]+$/;

export const RepoRef = z
  .object({
    url: z
      .string()
      .min(1)
      .max(2048)
      .refine((u) => /^(https?:\/\/|ssh:\/\/|git@|file:\/\/|\/)/.test(u), "a git URL (https, ssh, git@, file or an absolute path)"),
    ref: z
      .string()
      .min(1)
      .max(255)
      .regex(GIT_REF_PATTERN, "a branch, tag or commit name (letters, digits and _ . / + @ -, not starting with -)")
      .optional(),
  })
  .strict();
export type RepoRef = z.infer<typeof RepoRef>;

export const CreateTaskRequest = z
  .object({
    repo: RepoRef,
    prompt: z.string().trim().min(1).max(LIMITS.maxPromptChars),
    model: z.string().min(1).max(128).optional(),
    labels: Labels.optional(),
    limits: TaskLimits.optional(),
  })
  .strict();
export type CreateTaskRequest = z.infer<typeof CreateTaskRequest>;

export const MessageRequest = z.object({ text: z.string().trim().min(1).max(LIMITS.maxMessageChars) }).strict();
export type MessageRequest = z.infer<typeof MessageRequest>;

export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  costUSD: z.number().nonnegative().max(LIMITS.maxTaskCostUSD),
  modelCalls: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

/** One model call's tokens and cost, as a `usage` event carries them. */
export type CallUsage = Pick<Usage, "inputTokens" | "outputTokens" | "cacheReadTokens" | "cacheWriteTokens" | "costUSD">;

function clampedSum(a: number, b: number, max: number): number {
  const sum = a + b;
  return Number.isFinite(sum) && sum <= max ? sum : max;
}

/** Adds one call to a total; each sum clamps at its bound, so a total always parses as `Usage`. */
export function addUsage(total: Usage, call: CallUsage): Usage {
  const tokens = (a: number, b: number) => clampedSum(a, b, Number.MAX_SAFE_INTEGER);
  return {
    inputTokens: tokens(total.inputTokens, call.inputTokens),
    outputTokens: tokens(total.outputTokens, call.outputTokens),
    cacheReadTokens: tokens(total.cacheReadTokens, call.cacheReadTokens),
    cacheWriteTokens: tokens(total.cacheWriteTokens, call.cacheWriteTokens),
    costUSD: clampedSum(total.costUSD, call.costUSD, LIMITS.maxTaskCostUSD),
    modelCalls: tokens(total.modelCalls, 1),
  };
}

export const EMPTY_USAGE: Usage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUSD: 0,
  modelCalls: 0,
};

export const DiffStat = z.object({
  files: z.number().int().nonnegative(),
  insertions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
});
export type DiffStat = z.infer<typeof DiffStat>;

/** One file a task's diff touches, with its line counts. */
export const ChangedFile = z.object({ path: z.string(), insertions: z.number().int().nonnegative(), deletions: z.number().int().nonnegative() });
export type ChangedFile = z.infer<typeof ChangedFile>;

export const Task = z.object({
  id: z.string(),
  title: z.string(),
  repo: RepoRef,
  prompt: z.string(),
  model: z.string().nullable(),
  labels: z.array(z.string()),
  limits: TaskLimits,
  status: TaskStatus,
  /** Why the task is in its status, when that needs saying (failed, lost, cancelled). */
  statusReason: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  runnerID: z.string().nullable(),
  /** The highest event `seq` in the task's log. */
  lastSeq: z.number().int().nonnegative(),
  usage: Usage,
  diff: DiffStat.nullable(),
  branch: z.string().nullable(),
});
export type Task = z.infer<typeof Task>;

/** The record of a task just created: queued, nothing run, nothing spent. */
export function newTaskRecord(id: string, request: CreateTaskRequest, createdBy: string, now = new Date().toISOString()): Task {
  return {
    id,
    title: titleFromPrompt(request.prompt),
    repo: request.repo,
    prompt: request.prompt,
    model: request.model ?? null,
    labels: request.labels ?? [],
    limits: request.limits ?? {},
    status: "queued",
    statusReason: null,
    createdBy,
    createdAt: now,
    updatedAt: now,
    runnerID: null,
    lastSeq: 0,
    usage: EMPTY_USAGE,
    diff: null,
    branch: null,
  };
}

/** The title shown in lists: the prompt's first line, shortened. */
export function titleFromPrompt(prompt: string): string {
  const line = prompt.trim().split("\n", 1)[0] ?? "";
  return line.length > 80 ? `${line.slice(0, 79)}…` : line;
}
