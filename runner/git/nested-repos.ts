/**
 * Nested repositories in a workspace (internal to git/): a directory holding a `.git` (a
 * directory, or a file saying `gitdir: <any host path>`) is, to the host's git, another
 * repository, and `git add` would read that repository's HEAD, wherever its gitdir points,
 * and record it as a gitlink. The runner's commit leaves every such directory out, by a
 * pathspec, so its git never follows a pointer the agent wrote. A directory the base commit
 * already tracks files under stays in: git walks it as a plain directory and ignores its `.git`.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * The directories under `dir` (relative, `/`-separated) that hold a `.git` entry and are not
 * in `trackedDirs`, without looking below them; the workspace's own top-level `.git` is not one.
 * Symbolic links are not followed.
 */
export async function findNestedRepos(dir: string, trackedDirs: ReadonlySet<string>): Promise<string[]> {
  const found: string[] = [];
  const pending: string[] = [""];
  while (pending.length > 0) {
    const rel = pending.pop()!;
    const entries = await readdir(join(dir, rel), { withFileTypes: true }).catch(() => []);
    if (rel !== "" && !trackedDirs.has(rel) && entries.some((e) => e.name === ".git")) {
      found.push(rel);
      continue;
    }
    for (const e of entries) {
      if (e.isDirectory() && e.name !== ".git") pending.push(rel === "" ? e.name : `${rel}/${e.name}`);
    }
  }
  return found.sort();
}

/** Every directory that has a tracked file (not a gitlink) under it, from `git ls-files -z -s`. */
export function trackedDirsOf(lsFilesStage: string): Set<string> {
  const dirs = new Set<string>();
  for (const record of lsFilesStage.split("\0")) {
    const m = record.match(/^(\d{6}) [0-9a-f]+ \d\t([\s\S]+)$/);
    if (!m || m[1] === "160000") continue;
    const parts = (m[2] ?? "").split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return dirs;
}

/** A NUL-separated pathspec list for `--pathspec-from-file`: all of the workspace but `excluded`. */
export function pathspecExcluding(excluded: readonly string[]): string {
  return [".", ...excluded.map((d) => `:(top,literal,exclude)${d}`)].map((s) => `${s}\0`).join("");
}
