/**
 * The conversation saved in the state directory (outside the repository), so a new
 * container can continue a task. Written after every model call and tool round as
 * `conversation.json` by tmp file + rename, so a crash leaves the old or the new file,
 * never half of one.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { describeIssues } from "../../shared/protocol.ts";

export const SavedConversation = z.object({
  version: z.literal(1),
  taskID: z.string(),
  /** The number of the current (or last) user turn: 0 for the task's prompt, then 1, 2 … */
  turn: z.number().int().nonnegative(),
  model: z.string(),
  messages: z.array(z.object({ role: z.enum(["user", "assistant"]), content: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))]) })),
});
export type SavedConversation = z.infer<typeof SavedConversation>;

const FILE = "conversation.json";

export async function saveConversation(stateDir: string, conversation: SavedConversation): Promise<void> {
  await mkdir(stateDir, { recursive: true });
  const path = join(stateDir, FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(conversation));
  await rename(tmp, path);
}

export type Loaded = { ok: true; conversation: SavedConversation } | { ok: false; reason: string };

export async function loadConversation(stateDir: string, taskID: string): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(join(stateDir, FILE), "utf8");
  } catch {
    return { ok: false, reason: `no saved conversation in ${stateDir}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: `the saved conversation in ${stateDir} is not JSON` };
  }
  const parsed = SavedConversation.safeParse(json);
  if (!parsed.success) return { ok: false, reason: `the saved conversation is not valid: ${describeIssues(parsed.error)}` };
  if (parsed.data.taskID !== taskID) return { ok: false, reason: `the saved conversation belongs to task ${parsed.data.taskID}, not ${taskID}` };
  return { ok: true, conversation: parsed.data };
}
