/**
 * The task record and the public request bodies that create and steer a task.
 */
import { z } from "zod";
import { ApprovalTimeoutSeconds, PendingApproval, TaskMode } from "./approvals.ts";
import { EGRESS_RULE_PATTERN, TaskEnvironment } from "./environment.ts";
import { LIMITS } from "./limits.ts";
import { EMPTY_USAGE, TASK_STATUSES, titleFromPrompt } from "./task-helpers.ts";

export { addUsage, EMPTY_USAGE, isTerminal, TERMINAL_STATUSES, TITLE_CHARS, titleFromPrompt } from "./task-helpers.ts";

export const TaskStatus = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatus>;

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

/** The model a task runs on when it names none: a current Sonnet from the SDK's own model list. */
export const DEFAULT_MODEL = "claude-sonnet-5-5";

/** How much effort the model puts into the task (`output_config.effort`); the model's default when absent. */
export const Effort = z.enum(["low", "medium", "high"]);
export type Effort = z.infer<typeof Effort>;

export const CreateTaskRequest = z
  .object({
    repo: RepoRef,
    prompt: z.string().trim().min(1).max(LIMITS.maxPromptChars),
    model: z.string().min(1).max(128).optional(),
    effort: Effort.optional(),
    labels: Labels.optional(),
    limits: TaskLimits.optional(),
    /** A setup script run with `sh -c` in the workspace before the agent (instead of the repository's `.tether/setup.sh`). */
    setup: z.string().trim().min(1).max(LIMITS.maxSetupChars).optional(),
    /** A saved environment's id; without one the account matches an environment by the repository URL. */
    environment: z.string().min(1).max(64).optional(),
    /** auto (the default), plan or ask: see approvals.ts. */
    mode: TaskMode.optional(),
    /** How long a question waits before it counts as no (default `DEFAULT_APPROVAL_SECONDS`). */
    approvalTimeoutSeconds: ApprovalTimeoutSeconds.optional(),
  })
  .strict();
export type CreateTaskRequest = z.infer<typeof CreateTaskRequest>;

export const MessageRequest = z.object({ text: z.string().trim().min(1).max(LIMITS.maxMessageChars) }).strict();
export type MessageRequest = z.infer<typeof MessageRequest>;

/** Let a task reach a host through its egress proxy for the rest of its run. */
export const EgressAllowRequest = z
  .object({ host: z.string().trim().min(1).max(300).regex(EGRESS_RULE_PATTERN, "a host, *.domain or host:port") })
  .strict();
export type EgressAllowRequest = z.infer<typeof EgressAllowRequest>;

export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  /** Null once a call's model had no known price: the tokens still count, the cost is unknown. */
  costUSD: z.number().nonnegative().max(LIMITS.maxTaskCostUSD).nullable(),
  modelCalls: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

/** One model call's tokens and cost, as a `usage` event carries them. */
export type CallUsage = Pick<Usage, "inputTokens" | "outputTokens" | "cacheReadTokens" | "cacheWriteTokens" | "costUSD">;

export const EgressTotals = z.object({
  allowed: z.number().int().nonnegative(),
  denied: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
export type EgressTotals = z.infer<typeof EgressTotals>;

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
  effort: Effort.optional(),
  labels: z.array(z.string()),
  limits: TaskLimits,
  /** The request's setup script, when it gave one. */
  setup: z.string().optional(),
  /** The saved environment the task uses, as it was when the task was created. */
  environment: TaskEnvironment.optional(),
  /** auto when absent. */
  mode: TaskMode.optional(),
  approvalTimeoutSeconds: ApprovalTimeoutSeconds.optional(),
  /** The question the task waits on: it needs its owner. Null once answered. */
  pendingApproval: PendingApproval.nullable().optional(),
  /** What the task's egress proxy decided so far (from its `egress` events). */
  egress: EgressTotals.optional(),
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
export function newTaskRecord(
  id: string,
  request: CreateTaskRequest,
  createdBy: string,
  now = new Date().toISOString(),
  environment?: TaskEnvironment,
): Task {
  return {
    id,
    title: titleFromPrompt(request.prompt),
    repo: request.repo,
    prompt: request.prompt,
    model: request.model ?? null,
    ...(request.effort ? { effort: request.effort } : {}),
    labels: request.labels ?? [],
    limits: request.limits ?? {},
    ...(request.setup ? { setup: request.setup } : {}),
    ...(environment ? { environment } : {}),
    ...(request.mode && request.mode !== "auto" ? { mode: request.mode } : {}),
    ...(request.approvalTimeoutSeconds ? { approvalTimeoutSeconds: request.approvalTimeoutSeconds } : {}),
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
