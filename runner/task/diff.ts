/**
 * The end of a task's work on the host (internal to task/): commit what the agent
 * changed, make the diff against the cloned commit, push the branch when configured and the
 * task succeeded, upload the patch as `diff.patch`, and say so in events. Failures become
 * `log` events; nothing here throws.
 */
import type { RunnerEventBody } from "../../shared/events.ts";
import type { TaskMeta } from "./journal.ts";
import type { ArtifactPort, GitCredentials, GitPort } from "../ports.ts";

export const DIFF_ARTIFACT = "diff.patch";

export interface DiffJob {
  git: GitPort;
  artifacts: ArtifactPort;
  taskID: string;
  epoch: number;
  title: string;
  dir: string;
  baseRef: string;
  branch?: string;
  status: NonNullable<TaskMeta["outcome"]>["status"];
  push: boolean;
  credentials: GitCredentials;
}

const logEvent = (level: "info" | "error", message: string): RunnerEventBody => ({ type: "log", data: { level, message: message.slice(0, 8000) } });

/** The events that report the task's change: any `log` for a failed step, then `diff`. */
export async function publishDiff(job: DiffJob): Promise<RunnerEventBody[]> {
  const events: RunnerEventBody[] = [];
  try {
    const committed = await job.git.commitAll(job.dir, `tether: ${job.title}\n\nTask ${job.taskID} (${job.status}).`);
    const diff = await job.git.makeDiff(job.dir, job.baseRef);
    let pushed: boolean | undefined;
    if (job.push && committed && job.status === "succeeded" && job.branch) {
      const result = await job.git.push(job.dir, job.branch, job.credentials);
      pushed = result.ok;
      if (!result.ok) events.push(logEvent("error", `push failed: ${result.error}`));
    }
    const upload = await job.artifacts.upload(job.taskID, job.epoch, DIFF_ARTIFACT, diff.patch);
    if (!upload.ok) events.push(logEvent("error", upload.error));
    const { files, insertions, deletions, changedFiles } = diff.stat;
    events.push({
      type: "diff",
      data: {
        files,
        insertions,
        deletions,
        artifact: upload.ok ? DIFF_ARTIFACT : "",
        changedFiles: changedFiles.slice(0, 1000),
        ...(job.branch ? { branch: job.branch } : {}),
        ...(pushed !== undefined ? { pushed } : {}),
      },
    });
  } catch (err) {
    events.push(logEvent("error", `could not make the diff: ${(err as Error).message}`));
  }
  return events;
}

/** A repository URL without any user or password in it, for logs and events. */
export function redactURL(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = "";
      u.password = "";
    }
    return u.toString();
  } catch {
    return url;
  }
}
