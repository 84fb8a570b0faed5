import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runTool, TOOLS } from "./index.ts";
import { makeTestWorkspace, type TestWorkspace } from "./test-context.ts";

let ws: TestWorkspace;
beforeEach(async () => {
  ws = await makeTestWorkspace();
});
afterEach(() => ws.cleanup());

describe("runTool", () => {
  it("offers Anthropic's trained bash and text editor definitions plus glob and grep", () => {
    expect(TOOLS.map((t) => t.definition)).toEqual([
      { type: "bash_20250124", name: "bash" },
      { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
      expect.objectContaining({ name: "glob" }),
      expect.objectContaining({ name: "grep" }),
    ]);
  });

  it("turns unknown tools, bad input and tool errors into results, never throws", async () => {
    expect(await runTool("rm_rf", {}, ws.ctx())).toMatchObject({ ok: false, summary: "unknown tool rm_rf" });
    expect(await runTool("bash", "ls", ws.ctx())).toMatchObject({ ok: false, summary: "bad input" });
    const refused = await runTool("str_replace_based_edit_tool", { command: "view", path: "/etc/passwd" }, ws.ctx());
    expect(refused.ok).toBe(false);
    expect(refused.content).toMatch(/^Error: .*outside the workspace/);
  });
});
