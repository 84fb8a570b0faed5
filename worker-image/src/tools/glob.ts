/**
 * The `glob` tool: lists the files under a workspace directory whose paths match a glob
 * (`*`, `**`, `?`, `{a,b}`, `[abc]`), sorted, without `.git` and `node_modules` unless the
 * pattern names them. Symlinked directories are listed, not entered.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { resolveInWorkspace } from "../workspace.ts";
import { stringField, ToolError, type Tool } from "./tool.ts";

const MAX_RESULTS = 1000;
const MAX_VISITED = 200_000;
const SKIPPED = new Set([".git", "node_modules"]);

/** A regular expression for a glob matched against a whole `/`-separated path. */
export function globToRegExp(glob: string): RegExp {
  let out = "";
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const slash = glob[i + 2] === "/";
        out += slash ? "(?:.*/)?" : ".*";
        i += slash ? 2 : 1;
      } else {
        out += "[^/]*";
      }
    } else if (c === "?") out += "[^/]";
    else if (c === "{") {
      braces++;
      out += "(?:";
    } else if (c === "}" && braces > 0) {
      braces--;
      out += ")";
    } else if (c === "," && braces > 0) out += "|";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1);
      if (end === -1) out += "\\[";
      else {
        out += `[${glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else out += c.replace(/[.+^$()|\\]/g, "\\$&");
  }
  if (braces > 0) throw new ToolError(`the pattern "${glob}" has an unclosed {`);
  return new RegExp(`^${out}$`);
}

export const globTool: Tool = {
  name: "glob",
  definition: {
    name: "glob",
    description:
      'List files in the workspace whose paths match a glob pattern, e.g. "**/*.ts", "src/**/test_*.py", "*.{json,md}". Paths are relative to `path` (default: the workspace root). .git and node_modules are skipped unless the pattern names them. At most 1000 results, sorted.',
    input_schema: {
      type: "object",
      properties: {
        pattern: { type: "string", description: "The glob pattern, matched against the whole relative path." },
        path: { type: "string", description: "Directory to search in, relative to the workspace root. Default: the root." },
      },
      required: ["pattern"],
    },
  },
  async run(input, ctx) {
    const pattern = stringField(input, "pattern", true);
    const base = await resolveInWorkspace(ctx.root, stringField(input, "path") ?? ".");
    const regex = globToRegExp(pattern.replace(/^\.\//, ""));
    const enterSkipped = [...SKIPPED].some((name) => pattern.includes(name));
    const found: string[] = [];
    let visited = 0;
    let more = false;
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (prefix === "") throw new ToolError(`cannot list ${base.rel}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
        return;
      }
      entries.sort((a, b) => a.name.localeCompare(b.name));
      for (const entry of entries) {
        if (ctx.signal.aborted || ++visited > MAX_VISITED) return;
        const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
        if (entry.isDirectory()) {
          if (SKIPPED.has(entry.name) && !enterSkipped) continue;
          if (regex.test(path)) push(`${path}/`);
          await walk(join(dir, entry.name), path);
        } else if (regex.test(path)) push(path);
      }
    };
    const push = (path: string) => {
      if (found.length < MAX_RESULTS) found.push(path);
      else more = true;
    };
    await walk(base.abs, "");
    const where = base.rel === "." ? "the workspace" : base.rel;
    if (found.length === 0) return { ok: true, content: `No files match ${pattern} in ${where}.`, summary: "no matches" };
    const note = more ? `\n[more than ${MAX_RESULTS} matches; narrow the pattern]` : visited > MAX_VISITED ? `\n[stopped after ${MAX_VISITED} entries]` : "";
    return { ok: true, content: found.join("\n") + note, summary: `${found.length}${more ? "+" : ""} match(es) for ${pattern}` };
  },
};
