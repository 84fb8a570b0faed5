/**
 * Ready-made conversations and the small repository they work on, shared by the worker's
 * and the runner's tests.
 */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ScriptStep } from "./index.ts";

/** The fixture repository's files: `add` subtracts, so `node test.js` fails. */
export const FIXTURE_FILES: Record<string, string> = {
  "package.json": `${JSON.stringify({ name: "fixture", version: "1.0.0", private: true, type: "module", scripts: { test: "node test.js" } }, null, 2)}\n`,
  "math.js": "export function add(a, b) {\n  return a - b;\n}\n",
  "test.js": 'import assert from "node:assert/strict";\nimport { add } from "./math.js";\n\nassert.equal(add(2, 3), 5);\nconsole.log("ok: add(2, 3) is 5");\n',
  "README.md": "# fixture\n\nA tiny module with a failing test.\n",
};

/** Writes the fixture into `dir` (made if missing); with `git`, also a repository with one commit. */
export async function createFixtureRepo(dir: string, options: { git?: boolean } = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(FIXTURE_FILES)) await writeFile(join(dir, name), text);
  if (options.git) {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: "ignore" });
    git("init", "-q", "-b", "main");
    git("-c", "user.name=Fixture", "-c", "user.email=fixture@example.invalid", "add", "-A");
    git("-c", "user.name=Fixture", "-c", "user.email=fixture@example.invalid", "commit", "-q", "-m", "A module with a failing test");
  }
}

export const FIX_SUMMARY = "Fixed it: `add` subtracted instead of adding. `node test.js` passes now.";

export const FIX_REASONING = "A test fails; I should see the files before changing anything.";
export const FIX_NOTE = "The function subtracts. Fixing it.";

/**
 * "The test fails, fix it": lists the files, reads math.js, runs the test (fails), edits,
 * runs it again (passes), answers. Six model calls, one user turn. It thinks up front in the
 * first and last calls, and its notes before a tool call come back as thinking (today's model).
 */
export function fixTheFailingTestScript(): ScriptStep[] {
  return [
    {
      reply: {
        content: [
          { type: "thinking", thinking: FIX_REASONING },
          { type: "text", text: "Let me look at the repository." },
          { type: "tool_use", id: "toolu_list", name: "glob", input: { pattern: "**/*" } },
        ],
      },
    },
    { reply: { content: [{ type: "tool_use", id: "toolu_view", name: "str_replace_based_edit_tool", input: { command: "view", path: "math.js" } }] } },
    { reply: { content: [{ type: "tool_use", id: "toolu_test1", name: "bash", input: { command: "node test.js" } }] } },
    {
      reply: {
        content: [
          { type: "text", text: FIX_NOTE },
          { type: "tool_use", id: "toolu_edit", name: "str_replace_based_edit_tool", input: { command: "str_replace", path: "math.js", old_str: "return a - b;", new_str: "return a + b;" } },
        ],
      },
    },
    { reply: { content: [{ type: "tool_use", id: "toolu_test2", name: "bash", input: { command: "node test.js" } }] } },
    {
      reply: {
        content: [{ type: "thinking", thinking: "The test passes now." }, { type: "text", text: FIX_SUMMARY }],
        stop_reason: "end_turn",
        usage: { input_tokens: 900, output_tokens: 40, cache_read_input_tokens: 800 },
      },
    },
  ];
}

/** A follow-up turn: "add a subtraction helper" → creates sub.js and answers. Two model calls. */
export function followUpScript(): ScriptStep[] {
  return [
    {
      reply: {
        content: [{ type: "thinking", thinking: "A sub helper beside add." }, { type: "tool_use", id: "toolu_create", name: "str_replace_based_edit_tool", input: { command: "create", path: "sub.js", file_text: "export function sub(a, b) {\n  return a - b;\n}\n" } }],
      },
    },
    { reply: { content: [{ type: "text", text: "Added sub.js." }], stop_reason: "end_turn" } },
  ];
}

/** One bash call that reports the sandbox (uid, network interfaces, environment), then an answer. */
export function inspectSandboxScript(): ScriptStep[] {
  return [
    {
      reply: {
        content: [
          { type: "tool_use", id: "toolu_inspect", name: "bash", input: { command: "echo uid=$(id -u); echo net=$(ls /sys/class/net | tr '\\n' ' '); echo ---env---; env" } },
        ],
      },
    },
    { reply: { content: [{ type: "text", text: "Inspected." }], stop_reason: "end_turn" } },
  ];
}
