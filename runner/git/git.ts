/**
 * Git on the host: clone a task's repo, commit what the agent changed, make the diff, push.
 *
 * The runner's repository lives beside the workspace, at `<dir>.git`, never inside it: the
 * workspace is mounted into the container, and an agent that could write the runner's
 * `.git/config` or hooks would make the runner's own git run its commands on the host. Every
 * call here names both directories, so whatever is in `<dir>/.git` is never read by the runner.
 * The agent gets a `.git` of its own in the workspace, a copy made from the runner's at clone
 * time (same commit and branch, no remote, no credentials), so `git status` and `git diff` work
 * inside the container. What the runner commits and diffs is the workspace's files, whatever
 * the agent did with its copy. `removeRepo` deletes the workspace and `<dir>.git`.
 *
 * Credentials come from the runner's config only (see credentials.ts) and never reach an
 * error message. Expected failures come back as `{ ok: false, error }`. */
import { spawn } from "node:child_process";
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LIMITS } from "../../shared/limits.ts";
import { type ChangedFile, GIT_REF_PATTERN } from "../../shared/task.ts";
import type { Result } from "../ports.ts";
import { type GitCredentials, gitEnv, scrubSecrets } from "./credentials.ts";
import { findNestedRepos, pathspecExcluding, trackedDirsOf } from "./nested-repos.ts";

export type { GitCredentials } from "./credentials.ts";

export const TETHER_AUTHOR = { name: "Tether", email: "tether@localhost" } as const;

export interface CloneOptions {
  url: string;
  /** A branch, a tag or a commit; the remote's HEAD when absent. */
  ref?: string;
  dir: string;
  /** The task's branch, created at the cloned commit and checked out. */
  branch: string;
  /** History depth; 0 for all of it. */
  depth?: number;
  credentials?: GitCredentials;
}

export interface Diff {
  patch: string;
  /** The patch was cut at `LIMITS.maxArtifactBytes`. */
  truncated: boolean;
  stat: { files: number; insertions: number; deletions: number; changedFiles: ChangedFile[] };
}

/** Where the git directory of the workspace `dir` lives. */
export function gitDirOf(dir: string): string {
  return `${dir.replace(/\/+$/, "")}.git`;
}

export async function cloneRepo(opts: CloneOptions): Promise<Result<string>> {
  const { url, ref, dir, branch, depth = 1, credentials = {} } = opts;
  // Anything that reaches git's command line must not be read as an option or a refspec.
  if (url.startsWith("-")) return { ok: false, error: "a repository URL may not begin with '-'" };
  if (ref !== undefined && !GIT_REF_PATTERN.test(ref)) return { ok: false, error: `ref ${JSON.stringify(ref)} is not a branch, tag or commit name` };
  if (!GIT_REF_PATTERN.test(branch)) return { ok: false, error: `branch ${JSON.stringify(branch)} is not a valid branch name` };
  const existing = await readdir(dir).catch(() => []);
  if (existing.length > 0) return { ok: false, error: `workspace ${dir} is not empty` };
  await rm(gitDirOf(dir), { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const fail = async (error: string) => {
    await removeRepo(dir);
    return { ok: false as const, error };
  };
  const steps: string[][] = [
    ["init", "-q"],
    ["remote", "add", "origin", url],
  ];
  for (const args of steps) {
    const r = await git(dir, args, credentials);
    if (r.code !== 0) return fail(`git ${args[0]} failed: ${r.error}`);
  }
  const depthArgs = depth > 0 ? [`--depth=${depth}`] : [];
  const fetched = await git(dir, ["fetch", "-q", "--no-tags", ...depthArgs, "origin", ref ?? "HEAD"], credentials);
  let target = "FETCH_HEAD";
  if (fetched.code !== 0) {
    // A server may refuse a commit asked for by ID; all of its history then holds it.
    if (ref === undefined || !/^[0-9a-f]{7,40}$/i.test(ref)) return fail(`git fetch of ${ref ?? "the default branch"} from ${scrubSecrets(url)} failed: ${fetched.error}`);
    const all = await git(dir, ["fetch", "-q", "--no-tags", "origin"], credentials);
    if (all.code !== 0) return fail(`git fetch from ${scrubSecrets(url)} failed: ${all.error}`);
    target = ref;
  }
  const checkout = await git(dir, ["checkout", "-q", "-b", branch, `${target}^{commit}`], credentials);
  if (checkout.code !== 0) return fail(`git checkout of ${ref ?? "the default branch"} as ${branch} failed: ${checkout.error}`);
  const head = await git(dir, ["rev-parse", "HEAD"], credentials);
  if (head.code !== 0) return fail(`git rev-parse failed: ${head.error}`);
  const copy = await giveAgentRepo(dir, branch);
  if (copy) return fail(`the workspace's own .git could not be made: ${copy}`);
  return { ok: true, value: head.stdout.trim() };
}

/**
 * Makes `<dir>/.git`: a copy of the runner's repository (objects copied, not linked, as the
 * agent owns them) at the same branch, with an index that matches the checked-out files.
 */
async function giveAgentRepo(dir: string, branch: string): Promise<string | undefined> {
  const agentGit = join(dir, ".git");
  const steps: string[][] = [
    ["clone", "-q", "--bare", "--no-hardlinks", "--branch", branch, gitDirOf(dir), agentGit],
    [`--git-dir=${agentGit}`, "config", "core.bare", "false"],
    [`--git-dir=${agentGit}`, "remote", "remove", "origin"],
    [`--git-dir=${agentGit}`, `--work-tree=${dir}`, "reset", "-q"],
  ];
  for (const args of steps) {
    const r = await plainGit(dir, args);
    if (r.code !== 0) return r.error;
  }
  return undefined;
}

/**
 * Commits every change in the workspace as Tether; false when nothing changed. Nested
 * repositories are left out (nested-repos.ts), and the commit is made from the index alone
 * (write-tree, commit-tree), so git reads nothing the agent points at outside the workspace.
 */
export async function commitAll(dir: string, message: string): Promise<boolean> {
  const tracked = trackedDirsOf((await mustRun(dir, ["ls-files", "-z", "-s"])).stdout);
  const pathspecFile = join(gitDirOf(dir), "tether-pathspec");
  await writeFile(pathspecFile, pathspecExcluding(await findNestedRepos(dir, tracked)));
  await mustRun(dir, ["add", "-A", `--pathspec-from-file=${pathspecFile}`, "--pathspec-file-nul"]);
  const staged = await git(dir, ["diff", "--cached", "--quiet"]);
  if (staged.code === 0) return false;
  if (staged.code !== 1) throw new Error(`git diff --cached failed: ${staged.error}`);
  const tree = (await mustRun(dir, ["write-tree"])).stdout.trim();
  const author = ["-c", `user.name=${TETHER_AUTHOR.name}`, "-c", `user.email=${TETHER_AUTHOR.email}`];
  const commit = (await mustRun(dir, [...author, "commit-tree", tree, "-p", "HEAD", "-m", message])).stdout.trim();
  await mustRun(dir, ["update-ref", "-m", "tether: commit", "HEAD", commit]);
  return true;
}

/**
 * What the workspace holds that git does not track (ignored files too), a directory of only
 * such files named whole (`node_modules/`); the workspace's own `.git` is left out.
 */
export async function listUntracked(dir: string): Promise<string[]> {
  const r = await mustRun(dir, ["ls-files", "-z", "--others", "--directory"]);
  return r.stdout.split("\0").filter((p) => p !== "" && p !== ".git" && p !== ".git/" && !p.startsWith(".git/"));
}

/** The change from `baseRef` to the last commit: a binary-safe patch and its numbers. */
export async function makeDiff(dir: string, baseRef: string): Promise<Diff> {
  const common = ["--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", baseRef, "HEAD"];
  const numstat = await mustRun(dir, ["diff", "--numstat", "-z", ...common]);
  const changedFiles: ChangedFile[] = [];
  for (const record of numstat.stdout.split("\0")) {
    const m = record.match(/^(\d+|-)\t(\d+|-)\t([\s\S]+)$/);
    if (!m) continue;
    changedFiles.push({ path: m[3] ?? "", insertions: m[1] === "-" ? 0 : Number(m[1]), deletions: m[2] === "-" ? 0 : Number(m[2]) });
  }
  const patch = await git(dir, ["diff", "--binary", ...common], {}, LIMITS.maxArtifactBytes);
  if (patch.code !== 0 && !patch.truncated) throw new Error(`git diff failed: ${patch.error}`);
  return {
    patch: patch.stdout,
    truncated: patch.truncated,
    stat: {
      files: changedFiles.length,
      insertions: changedFiles.reduce((n, f) => n + f.insertions, 0),
      deletions: changedFiles.reduce((n, f) => n + f.deletions, 0),
      changedFiles,
    },
  };
}

/** Pushes the task's branch to `origin` under the same name. */
export async function pushBranch(dir: string, branch: string, credentials: GitCredentials = {}): Promise<Result> {
  if (!GIT_REF_PATTERN.test(branch)) return { ok: false, error: `branch ${JSON.stringify(branch)} is not a valid branch name` };
  const r = await git(dir, ["push", "-q", "--no-verify", "origin", `refs/heads/${branch}:refs/heads/${branch}`], credentials);
  return r.code === 0 ? { ok: true, value: undefined } : { ok: false, error: `git push of ${branch} failed: ${r.error}` };
}

/** Deletes the workspace and its git directory. */
export async function removeRepo(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await rm(gitDirOf(dir), { recursive: true, force: true });
}

interface Run {
  code: number;
  stdout: string;
  /** The last lines of stderr, scrubbed of credentials. */
  error: string;
  truncated: boolean;
}

async function mustRun(dir: string, args: string[]): Promise<Run> {
  const r = await git(dir, args);
  if (r.code !== 0) throw new Error(`git ${args.find((a) => !a.startsWith("-") && !a.includes("=")) ?? ""} failed: ${r.error}`);
  return r;
}

/** git on the runner's repository of the workspace `dir`. */
function git(dir: string, args: string[], credentials: GitCredentials = {}, maxStdout = 64 * 1024 * 1024): Promise<Run> {
  return plainGit(dir, [`--git-dir=${gitDirOf(dir)}`, `--work-tree=${dir}`, ...args], credentials, maxStdout);
}

function plainGit(cwd: string, args: string[], credentials: GitCredentials = {}, maxStdout = 64 * 1024 * 1024): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn("git", args, {
      cwd,
      env: gitEnv(credentials),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let outBytes = 0;
    let truncated = false;
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (truncated) return;
      if (outBytes + chunk.byteLength > maxStdout) {
        out.push(chunk.subarray(0, maxStdout - outBytes));
        truncated = true;
        child.kill();
        return;
      }
      out.push(chunk);
      outBytes += chunk.byteLength;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err = (err + chunk.toString("utf8")).slice(-8192);
    });
    const finish = (code: number, extra = "") =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString("utf8"),
        truncated,
        error: scrubSecrets(`${err}${extra}`.trim().split("\n").slice(-5).join(" | ") || `exit ${code}`, credentials),
      });
    child.on("error", (e: NodeJS.ErrnoException) => finish(127, e.code === "ENOENT" ? "git is not installed on this host" : e.message));
    child.on("close", (code) => finish(code ?? 128));
  });
}
