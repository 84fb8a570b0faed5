import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestWorkspace, type TestWorkspace } from "./tools/test-context.ts";
import { resolveInWorkspace } from "./workspace.ts";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeTestWorkspace();
});
afterEach(() => ws.cleanup());

describe("resolveInWorkspace", () => {
  it("resolves relative paths, absolute paths inside, and paths that do not exist yet", async () => {
    await expect(resolveInWorkspace(ws.root, "src/a.ts")).resolves.toEqual({ abs: join(ws.root, "src/a.ts"), rel: "src/a.ts" });
    await expect(resolveInWorkspace(ws.root, join(ws.root, "b.txt"))).resolves.toMatchObject({ rel: "b.txt" });
    await expect(resolveInWorkspace(ws.root, "a/../c")).resolves.toMatchObject({ rel: "c" });
    await expect(resolveInWorkspace(ws.root, ".")).resolves.toMatchObject({ rel: "." });
  });

  it("refuses .. that climbs out, absolute paths outside, and look-alike prefixes", async () => {
    await expect(resolveInWorkspace(ws.root, "../outside/x")).rejects.toThrow(/outside the workspace/);
    await expect(resolveInWorkspace(ws.root, "a/../../x")).rejects.toThrow(/outside the workspace/);
    await expect(resolveInWorkspace(ws.root, "/etc/passwd")).rejects.toThrow(/outside the workspace/);
    await expect(resolveInWorkspace(ws.root, `${ws.root}-evil/x`)).rejects.toThrow(/outside the workspace/);
    await expect(resolveInWorkspace(ws.root, "")).rejects.toThrow(/required/);
    await expect(resolveInWorkspace(ws.root, "a\0b")).rejects.toThrow(/NUL/);
  });

  it("refuses symlinks that lead out, for files, directories and paths below them", async () => {
    await writeFile(join(ws.outside, "secret"), "s");
    await symlink(join(ws.outside, "secret"), join(ws.root, "link-file"));
    await symlink(ws.outside, join(ws.root, "link-dir"));
    await symlink("../outside", join(ws.root, "relative-link"));
    await expect(resolveInWorkspace(ws.root, "link-file")).rejects.toThrow(/symlink/);
    await expect(resolveInWorkspace(ws.root, "link-dir/secret")).rejects.toThrow(/symlink/);
    await expect(resolveInWorkspace(ws.root, "link-dir/new/file")).rejects.toThrow(/symlink/);
    await expect(resolveInWorkspace(ws.root, "relative-link")).rejects.toThrow(/symlink/);
  });

  it("allows symlinks that stay inside", async () => {
    await mkdir(join(ws.root, "real"));
    await symlink(join(ws.root, "real"), join(ws.root, "alias"));
    await expect(resolveInWorkspace(ws.root, "alias/f")).resolves.toMatchObject({ rel: "alias/f" });
  });
});
