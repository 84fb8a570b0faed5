/**
 * One task's run on this runner, as the daemon and the CLI use it: `TaskRun` (the state
 * machine, task-run.ts), the `Journal` it writes through (journal.ts), the room on the
 * journal's disk (`JournalSpace`, journal-space.ts) and the runner's
 * `WorkerPool` of workers started ahead of their tasks (worker-pool.ts). Everything else in
 * this folder is internal to the run.
 */
export { TaskRun, type TaskRunDeps } from "./task-run.ts";
export { LOCAL_REPO_REASON, NO_MODEL_KEY_REASON } from "./prepare.ts";
export { Journal, type LocalStatus, type TaskRow } from "./journal.ts";
export { JournalSpace } from "./journal-space.ts";
export type { EnvironmentDeps } from "./setup-phase.ts";
export { canMountTaskDisks } from "./task-disk.ts";
export { WorkerPool } from "./worker-pool.ts";
export type { PoolSlot } from "./pool-slot.ts";
export { EgressQuestions } from "./egress-questions.ts";
