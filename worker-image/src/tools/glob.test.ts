import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { globTool, globToRegExp } from "./glob.ts";
import { makeTestWorkspace, type TestWorkspace } from "./test-context.ts";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeTestWorkspace();
  for (const f of ["a.ts", "b.md", "src/c.ts", "src/deep/d.ts", "node_modules/m/i.ts", ".git/HEAD"]) {
    await mkdir(join(ws.root, f, ".."), { recursive: true });
    await writeFile(join(ws.root, f), "");
  }
});
afterEach(() => ws.cleanup());

describe("glob tool", () => {
  it("turns globs into anchored regular expressions", () => {
    expect(globToRegExp("**/*.ts").test("a.ts")).toBe(true);
    expect(globToRegExp("**/*.ts").test("x/y/a.ts")).toBe(true);
    expect(globToRegExp("*.ts").test("x/a.ts")).toBe(false);
    expect(globToRegExp("*.{ts,md}").test("b.md")).toBe(true);
    expect(globToRegExp("[ab].ts").test("b.ts")).toBe(true);
    expect(globToRegExp("a?c").test("abc")).toBe(true);
    expect(globToRegExp("a.c").test("abc")).toBe(false);
  });

  it("lists matching files, sorted, without .git and node_modules", async () => {
    const result = await globTool.run({ pattern: "**/*.ts" }, ws.ctx());
    expect(result.content.split("\n")).toEqual(["a.ts", "src/c.ts", "src/deep/d.ts"]);
    expect((await globTool.run({ pattern: "*" }, ws.ctx())).content.split("\n")).toEqual(["a.ts", "b.md", "src/"]);
    expect((await globTool.run({ pattern: "node_modules/**" }, ws.ctx())).content).toContain("node_modules/m/i.ts");
  });

  it("searches below a path and says when nothing matches", async () => {
    expect((await globTool.run({ pattern: "*.ts", path: "src" }, ws.ctx())).content).toBe("c.ts");
    expect((await globTool.run({ pattern: "*.py" }, ws.ctx())).content).toMatch(/No files match/);
  });

  it("refuses paths outside and does not walk through symlinks that lead out", async () => {
    await writeFile(join(ws.outside, "secret.ts"), "");
    await symlink(ws.outside, join(ws.root, "door"));
    await expect(globTool.run({ pattern: "*", path: ".." }, ws.ctx())).rejects.toThrow(/outside/);
    await expect(globTool.run({ pattern: "*", path: "door" }, ws.ctx())).rejects.toThrow(/symlink/);
    expect((await globTool.run({ pattern: "**/*.ts" }, ws.ctx())).content).not.toContain("secret");
  });
});
