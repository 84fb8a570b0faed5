/**
 * A real git repository for end-to-end tests: the fixture module whose test fails
 * (`add` subtracts), committed on `main`, and a bare clone of it that plays the remote. A task
 * names the bare remote's absolute path as its repo URL; the runner clones from it and pushes
 * the task's branch back to it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFixtureRepo } from "../fake-model/scripts.ts";

export interface GitFixture {
  /** The bare remote's absolute path: the task's `repo.url`. */
  url: string;
  /** The commit `main` points at on the remote. */
  head: string;
  /** The commit a branch points at on the remote, or undefined when the remote has no such branch. */
  branchCommit(branch: string): string | undefined;
  /** A file's text at a commit of the remote. */
  show(commit: string, path: string): string;
  /** `git diff` between two commits of the remote. */
  diff(from: string, to: string): string;
  dispose(): void;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "user.name=Fixture", "-c", "user.email=fixture@example.invalid", ...args], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export async function createGitFixture(): Promise<GitFixture> {
  const root = mkdtempSync(join(tmpdir(), "tether-e2e-git-"));
  const work = join(root, "work");
  const bare = join(root, "remote.git");
  await createFixtureRepo(work, { git: true });
  git(root, "clone", "-q", "--bare", work, bare);
  const head = git(bare, "rev-parse", "refs/heads/main").trim();
  return {
    url: bare,
    head,
    branchCommit(branch) {
      try {
        return git(bare, "rev-parse", "--verify", "-q", `refs/heads/${branch}`).trim() || undefined;
      } catch {
        return undefined;
      }
    },
    show: (commit, path) => git(bare, "show", `${commit}:${path}`),
    diff: (from, to) => git(bare, "diff", from, to),
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}
