/**
 * The text editor tool (Anthropic's trained `text_editor_20250728`, named
 * `str_replace_based_edit_tool`): `view` a file (optionally a line range) or a directory,
 * `create` a file, `str_replace` one exact occurrence, `insert` after a line. Paths are
 * confined to the workspace; binary files are refused; every write emits `file.changed`.
 */
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { resolveInWorkspace } from "../workspace.ts";
import { stringField, ToolError, type Tool, type ToolContext, type ToolResult } from "./tool.ts";

const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_VIEW_CHARS = 60_000;

/** True when the bytes are not text: a NUL byte in the first 8 KiB, or not valid UTF-8. */
export function isBinary(bytes: Buffer): boolean {
  if (bytes.subarray(0, 8192).includes(0)) return true;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return false;
  } catch {
    return true;
  }
}

async function readText(abs: string, rel: string): Promise<string> {
  let info;
  try {
    info = await stat(abs);
  } catch {
    throw new ToolError(`${rel} does not exist`);
  }
  if (info.isDirectory()) throw new ToolError(`${rel} is a directory`);
  if (info.size > MAX_FILE_BYTES) throw new ToolError(`${rel} is ${info.size} bytes, over the ${MAX_FILE_BYTES} byte limit of this tool; use bash (head, sed -n) to read parts of it`);
  const bytes = await readFile(abs);
  if (isBinary(bytes)) throw new ToolError(`${rel} is a binary file (${bytes.length} bytes); not shown`);
  return bytes.toString("utf8");
}

function numbered(lines: string[], first: number): string {
  return lines.map((line, i) => `${String(first + i).padStart(6)}\t${line}`).join("\n");
}

async function listDirectory(abs: string, rel: string): Promise<string> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string, depth: number) => {
    const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith(".") && e.name !== "node_modules");
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      if (out.length >= 1000) return;
      const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
      out.push(entry.isDirectory() ? `${path}/` : path);
      if (entry.isDirectory() && depth < 2) await walk(join(dir, entry.name), path, depth + 1);
    }
  };
  await walk(abs, rel === "." ? "" : rel, 1);
  return `Files and directories up to 2 levels deep in ${rel} (hidden ones and node_modules left out):\n${out.join("\n")}`;
}

async function view(input: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
  const path = await resolveInWorkspace(ctx.root, stringField(input, "path", true));
  const info = await stat(path.abs).catch(() => undefined);
  if (info === undefined) throw new ToolError(`${path.rel} does not exist`);
  if (info.isDirectory()) return { ok: true, content: await listDirectory(path.abs, path.rel), summary: `listed ${path.rel}` };
  const lines = (await readText(path.abs, path.rel)).split("\n");
  const range = input.view_range;
  let first = 1;
  let last = lines.length;
  if (range !== undefined && range !== null) {
    if (!Array.isArray(range) || range.length !== 2 || !range.every((n) => Number.isInteger(n))) {
      throw new ToolError("view_range must be two integers [start, end] (end -1 for the end of the file)");
    }
    [first, last] = range as [number, number];
    if (last === -1) last = lines.length;
    if (first < 1 || first > lines.length) throw new ToolError(`view_range start ${first} is outside the file's ${lines.length} lines`);
    if (last < first || last > lines.length) throw new ToolError(`view_range end ${last} must be between ${first} and ${lines.length} (or -1)`);
  }
  let text = numbered(lines.slice(first - 1, last), first);
  if (text.length > MAX_VIEW_CHARS) text = `${text.slice(0, MAX_VIEW_CHARS)}\n[... cut at ${MAX_VIEW_CHARS} characters; view a smaller view_range]`;
  return { ok: true, content: text, summary: `read ${path.rel} lines ${first}-${last}` };
}

async function create(input: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
  const path = await resolveInWorkspace(ctx.root, stringField(input, "path", true));
  const text = stringField(input, "file_text", true);
  const existing = await stat(path.abs).catch(() => undefined);
  if (existing?.isDirectory()) throw new ToolError(`${path.rel} is a directory`);
  await mkdir(dirname(path.abs), { recursive: true });
  // The parent may have been made just now: check again that nothing on the way leads out.
  await resolveInWorkspace(ctx.root, path.abs);
  await writeFile(path.abs, text);
  const change = existing ? "modified" : "created";
  ctx.emit({ type: "file.changed", data: { path: path.rel, change } });
  return { ok: true, content: `File ${change}: ${path.rel}`, summary: `${change} ${path.rel}` };
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split("\n").length;
}

async function strReplace(input: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
  const path = await resolveInWorkspace(ctx.root, stringField(input, "path", true));
  const oldStr = stringField(input, "old_str", true);
  const newStr = stringField(input, "new_str") ?? "";
  if (oldStr === "") throw new ToolError("old_str must not be empty");
  const text = await readText(path.abs, path.rel);
  const first = text.indexOf(oldStr);
  if (first === -1) throw new ToolError(`No replacement was performed: old_str did not appear verbatim in ${path.rel}.`);
  const second = text.indexOf(oldStr, first + 1);
  if (second !== -1) {
    throw new ToolError(`No replacement was performed: old_str appears more than once in ${path.rel} (lines ${lineOf(text, first)} and ${lineOf(text, second)}); include more context to make it unique.`);
  }
  const updated = text.slice(0, first) + newStr + text.slice(first + oldStr.length);
  await writeFile(path.abs, updated);
  ctx.emit({ type: "file.changed", data: { path: path.rel, change: "modified" } });
  const at = lineOf(updated, first);
  const lines = updated.split("\n");
  const from = Math.max(1, at - 3);
  const to = Math.min(lines.length, at + newStr.split("\n").length + 3);
  return { ok: true, content: `Edited ${path.rel}. The lines around the change:\n${numbered(lines.slice(from - 1, to), from)}`, summary: `edited ${path.rel} at line ${at}` };
}

async function insert(input: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult> {
  const path = await resolveInWorkspace(ctx.root, stringField(input, "path", true));
  const after = input.insert_line;
  const newText = stringField(input, "insert_text") ?? stringField(input, "new_str");
  if (newText === undefined) throw new ToolError("insert_text is required");
  const text = await readText(path.abs, path.rel);
  const lines = text.split("\n");
  if (!Number.isInteger(after) || (after as number) < 0 || (after as number) > lines.length) {
    throw new ToolError(`insert_line must be an integer from 0 to ${lines.length}`);
  }
  lines.splice(after as number, 0, ...newText.split("\n"));
  await writeFile(path.abs, lines.join("\n"));
  ctx.emit({ type: "file.changed", data: { path: path.rel, change: "modified" } });
  return { ok: true, content: `Inserted ${newText.split("\n").length} line(s) after line ${after as number} of ${path.rel}.`, summary: `inserted into ${path.rel}` };
}

const COMMANDS: Record<string, (input: Record<string, unknown>, ctx: ToolContext) => Promise<ToolResult>> = {
  view,
  create,
  str_replace: strReplace,
  insert,
};

export const textEditorTool: Tool = {
  name: "str_replace_based_edit_tool",
  definition: { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
  async run(input, ctx) {
    const command = stringField(input, "command", true);
    const run = COMMANDS[command];
    if (run === undefined) throw new ToolError(`unknown command "${command}"; use one of ${Object.keys(COMMANDS).join(", ")}`);
    return run(input, ctx);
  },
};
