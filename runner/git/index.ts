/**
 * Git on the host, as the rest of the runner uses it: clone a task's repository, commit what
 * the agent changed, make the diff, push the branch (git.ts), with credentials from the
 * runner's config only (credentials.ts).
 */
export { cloneRepo, commitAll, makeDiff, pushBranch } from "./git.ts";
export type { GitCredentials } from "./credentials.ts";
