/**
 * Confines paths to the workspace. A path is taken relative to the workspace root (an
 * absolute path must lie inside it); `..` that climbs out, and symlinks anywhere on the way
 * that resolve outside, are refused with a `ToolError` that says why.
 */
import { realpath } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { ToolError } from "./tools/tool.ts";

export interface WorkspacePath {
  /** Absolute path on disk. */
  abs: string;
  /** Path relative to the workspace root, with `/` separators ("." for the root). */
  rel: string;
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The real path of the deepest part of `path` that exists. */
async function realExisting(path: string): Promise<{ real: string; rest: string }> {
  let current = path;
  let rest = "";
  for (;;) {
    try {
      return { real: await realpath(current), rest };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" && (err as NodeJS.ErrnoException).code !== "ENOTDIR") throw err;
      const parent = dirname(current);
      if (parent === current) return { real: current, rest };
      rest = rest === "" ? relative(parent, current) : `${relative(parent, current)}${sep}${rest}`;
      current = parent;
    }
  }
}

/**
 * Resolves `path` inside `root` (which must be a real path, no symlinks). Throws ToolError
 * when the path leaves the workspace, literally or through a symlink.
 */
export async function resolveInWorkspace(root: string, path: string): Promise<WorkspacePath> {
  if (typeof path !== "string" || path.trim() === "") throw new ToolError("a path is required");
  if (path.includes("\0")) throw new ToolError("the path contains a NUL byte");
  const abs = isAbsolute(path) ? resolve(path) : resolve(root, path);
  if (!inside(root, abs)) {
    throw new ToolError(`${path} is outside the workspace (${root}); only paths inside it are allowed`);
  }
  const { real, rest } = await realExisting(abs);
  const resolved = rest === "" ? real : resolve(real, rest);
  if (!inside(root, resolved)) {
    throw new ToolError(`${path} leads outside the workspace through a symlink (to ${resolved}); refused`);
  }
  const rel = relative(root, abs).split(sep).join("/");
  return { abs, rel: rel === "" ? "." : rel };
}
