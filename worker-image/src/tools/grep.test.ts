import { symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { grepTool } from "./grep.ts";
import { makeTestWorkspace, type TestWorkspace } from "./test-context.ts";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeTestWorkspace();
  await writeFile(join(ws.root, "a.js"), "const Needle = 1;\nother\n");
  await writeFile(join(ws.root, "b.md"), "a needle here\n");
  await writeFile(join(ws.root, "blob.bin"), Buffer.from([0, 1, 2, 110, 101, 101, 100, 108, 101]));
});
afterEach(() => ws.cleanup());

describe("grep tool", () => {
  it("finds lines as path:line:text, with glob and ignore_case", async () => {
    expect((await grepTool.run({ pattern: "needle" }, ws.ctx())).content).toBe("b.md:1:a needle here");
    const both = await grepTool.run({ pattern: "needle", ignore_case: true }, ws.ctx());
    expect(both.content.split("\n").sort()).toEqual(["a.js:1:const Needle = 1;", "b.md:1:a needle here"]);
    expect((await grepTool.run({ pattern: "needle", ignore_case: true, glob: "*.js" }, ws.ctx())).content).toBe("a.js:1:const Needle = 1;");
  });

  it("says when nothing matches, and reports a bad regex", async () => {
    expect(await grepTool.run({ pattern: "haystack" }, ws.ctx())).toMatchObject({ ok: true, summary: "no matches" });
    expect(await grepTool.run({ pattern: "(unclosed" }, ws.ctx())).toMatchObject({ ok: false });
  });

  it("skips binary files and stays inside the workspace", async () => {
    expect((await grepTool.run({ pattern: "needle" }, ws.ctx())).content).not.toContain("blob.bin");
    await writeFile(join(ws.outside, "secret.txt"), "needle outside\n");
    await symlink(ws.outside, join(ws.root, "door"));
    await expect(grepTool.run({ pattern: "needle", path: "../outside" }, ws.ctx())).rejects.toThrow(/outside/);
    await expect(grepTool.run({ pattern: "needle", path: "door" }, ws.ctx())).rejects.toThrow(/symlink/);
    expect((await grepTool.run({ pattern: "needle" }, ws.ctx())).content).not.toContain("outside");
  });
});
