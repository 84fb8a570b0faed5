import { execFileSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestWorkspace, type TestWorkspace } from "./tools/test-context.ts";
import { diffSnapshots, snapshotChanges } from "./workspace-changes.ts";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeTestWorkspace();
});
afterEach(() => ws.cleanup());

describe("workspace changes", () => {
  it("finds files a command created, modified and deleted in a git repository", async () => {
    await writeFile(join(ws.root, "keep.txt"), "1");
    await writeFile(join(ws.root, "gone.txt"), "1");
    await writeFile(join(ws.root, "dirty.txt"), "1");
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], { cwd: ws.root });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "init");
    await writeFile(join(ws.root, "dirty.txt"), "2");
    const before = await snapshotChanges(ws.root);
    await writeFile(join(ws.root, "keep.txt"), "changed");
    await writeFile(join(ws.root, "dirty.txt"), "3 and longer");
    await rm(join(ws.root, "gone.txt"));
    await writeFile(join(ws.root, "new.txt"), "n");
    expect(diffSnapshots(before, await snapshotChanges(ws.root))).toEqual([
      { path: "dirty.txt", change: "modified" },
      { path: "gone.txt", change: "deleted" },
      { path: "keep.txt", change: "modified" },
      { path: "new.txt", change: "created" },
    ]);
  });

  it("sees nothing outside a git repository", async () => {
    expect(await snapshotChanges(ws.root)).toBeNull();
    expect(diffSnapshots(null, null)).toEqual([]);
  });
});
