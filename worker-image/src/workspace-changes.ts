/**
 * Which files a shell command changed: `git status` (with each listed file's size and mtime)
 * before and after, compared. Works only in a git repository (the workspace always is one
 * under the runner); elsewhere it sees nothing.
 */
import { execFile } from "node:child_process";
import { stat } from "node:fs/promises";
import { join } from "node:path";

export type Change = "created" | "modified" | "deleted";
export type Snapshot = Map<string, string> | null;

function gitStatus(root: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("git", ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) =>
      resolve(err ? null : stdout),
    );
  });
}

/** Path → "status size mtime" for every file git lists as changed or untracked. */
export async function snapshotChanges(root: string): Promise<Snapshot> {
  const out = await gitStatus(root);
  if (out === null) return null;
  const entries = out.split("\0").filter((e) => e.length > 3);
  const snapshot = new Map<string, string>();
  for (const entry of entries.slice(0, 5000)) {
    const code = entry.slice(0, 2);
    const path = entry.slice(3);
    const info = await stat(join(root, path)).catch(() => null);
    snapshot.set(path, info ? `${code} ${info.size} ${info.mtimeMs}` : `${code} gone`);
  }
  return snapshot;
}

function changeOf(state: string | undefined, hadBefore: boolean): Change {
  if (state === undefined) return "modified";
  if (state.endsWith("gone")) return "deleted";
  return hadBefore || !/^(\?\?|A )/.test(state) ? "modified" : "created";
}

export function diffSnapshots(before: Snapshot, after: Snapshot): { path: string; change: Change }[] {
  if (before === null || after === null) return [];
  const changes: { path: string; change: Change }[] = [];
  for (const [path, state] of after) {
    const old = before.get(path);
    if (old !== state) changes.push({ path, change: old !== undefined && old.endsWith("gone") && !state.endsWith("gone") ? "created" : changeOf(state, false) });
  }
  // Listed before and not now: back to the committed content.
  for (const path of before.keys()) if (!after.has(path)) changes.push({ path, change: "modified" });
  return changes.sort((a, b) => a.path.localeCompare(b.path));
}
