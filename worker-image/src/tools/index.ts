/**
 * The tools the agent offers the model, and `runTool`, which turns any failure of a call
 * (unknown tool, bad input, a refused path, an unexpected error) into a tool result the model
 * can read, never a crash.
 */
import { bashTool } from "./bash.ts";
import { globTool } from "./glob.ts";
import { grepTool } from "./grep.ts";
import { textEditorTool } from "./text-editor.ts";
import { ToolError, type Tool, type ToolContext, type ToolResult } from "./tool.ts";

export const TOOLS: readonly Tool[] = [bashTool, textEditorTool, globTool, grepTool];

export async function runTool(name: string, input: unknown, ctx: ToolContext): Promise<ToolResult> {
  const tool = TOOLS.find((t) => t.name === name);
  if (tool === undefined) {
    return { ok: false, content: `There is no tool named "${name}". Tools: ${TOOLS.map((t) => t.name).join(", ")}.`, summary: `unknown tool ${name}` };
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, content: "The tool input must be a JSON object.", summary: "bad input" };
  }
  try {
    return await tool.run(input as Record<string, unknown>, ctx);
  } catch (err) {
    if (err instanceof ToolError) return { ok: false, content: `Error: ${err.message}`, summary: err.message.slice(0, 300) };
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, content: `Error: the tool failed: ${message}`, summary: `failed: ${message.slice(0, 300)}` };
  }
}
