/**
 * The `grep` tool: searches file contents in the workspace with ripgrep (regex, optional
 * file glob, case-insensitive), showing `path:line:text`; falls back to `grep -rnE` where
 * ripgrep is missing. Output is capped like a command's.
 */
import { spawn } from "node:child_process";
import { OutputCap } from "./output-cap.ts";
import { cleanOutput } from "./output-stream.ts";
import { resolveInWorkspace } from "../workspace.ts";
import { stringField, ToolError, type Tool } from "./tool.ts";

interface Search {
  program: string;
  args: string[];
}

function ripgrep(pattern: string, path: string, glob: string | undefined, ignoreCase: boolean): Search {
  const args = ["--line-number", "--no-heading", "--color", "never", "--max-columns", "400", "--max-count", "200"];
  if (ignoreCase) args.push("--ignore-case");
  if (glob) args.push("--glob", glob);
  return { program: "rg", args: [...args, "--regexp", pattern, "--", path] };
}

function plainGrep(pattern: string, path: string, glob: string | undefined, ignoreCase: boolean): Search {
  const args = ["-rnIE", "--exclude-dir=.git", "--exclude-dir=node_modules"];
  if (ignoreCase) args.push("-i");
  if (glob) args.push(`--include=${glob}`);
  return { program: "grep", args: [...args, "-e", pattern, "--", path] };
}

function run(search: Search, cwd: string, signal: AbortSignal): Promise<{ code: number | null; output: OutputCap; missing: boolean }> {
  return new Promise((resolve) => {
    const output = new OutputCap(20_000, 4_000);
    const child = spawn(search.program, search.args, { cwd, stdio: ["ignore", "pipe", "pipe"], signal });
    child.stdout.setEncoding("utf8").on("data", (text: string) => output.add(cleanOutput(text)));
    child.stderr.setEncoding("utf8").on("data", (text: string) => output.add(cleanOutput(text)));
    child.once("error", (err: NodeJS.ErrnoException) => resolve({ code: null, output, missing: err.code === "ENOENT" }));
    child.once("close", (code) => resolve({ code, output, missing: false }));
  });
}

export const grepTool: Tool = {
  name: "grep",
  definition: {
    name: "grep",
    description:
      "Search file contents in the workspace with ripgrep. Returns matching lines as path:line:text (at most 200 matches per file; long output is cut). Respects .gitignore and skips hidden and binary files.",
    input_schema: {
      type: "object",
      properties: {
        pattern: { type: "string", description: "A regular expression (Rust regex syntax)." },
        path: { type: "string", description: "File or directory to search, relative to the workspace root. Default: the root." },
        glob: { type: "string", description: 'Only search files whose names match this glob, e.g. "*.ts".' },
        ignore_case: { type: "boolean", description: "Match case-insensitively." },
      },
      required: ["pattern"],
    },
  },
  async run(input, ctx) {
    const pattern = stringField(input, "pattern", true);
    if (pattern === "") throw new ToolError("pattern must not be empty");
    const path = await resolveInWorkspace(ctx.root, stringField(input, "path") ?? ".");
    const glob = stringField(input, "glob");
    const ignoreCase = input.ignore_case === true;
    let result = await run(ripgrep(pattern, path.rel, glob, ignoreCase), ctx.root, ctx.signal);
    if (result.missing) result = await run(plainGrep(pattern, path.rel, glob, ignoreCase), ctx.root, ctx.signal);
    if (result.missing) throw new ToolError("neither rg nor grep is installed");
    const text = result.output.text().trimEnd().replace(/^\.\//gm, "");
    if (result.code === 1) return { ok: true, content: `No matches for /${pattern}/.`, summary: "no matches", exitCode: 1 };
    if (result.code !== 0) return { ok: false, content: text || `search failed (exit ${result.code})`, summary: `search failed (exit ${result.code})`, exitCode: result.code };
    const count = text.split("\n").length;
    return { ok: true, content: text, summary: `${count} matching line(s)${result.output.truncated ? " (cut)" : ""}`, exitCode: 0 };
  },
};
