/**
 * Keeps a long task inside the model's context window with a summary turn: when the last
 * prompt came near the window (`COMPACT_AT` of it), or the API refused one as too long, the
 * agent asks the model to summarise the conversation (given as a plain transcript, cut in the
 * middle to half the window) and starts again from the task's prompt and that summary. The
 * window is the model's known one until the API names it in a "prompt is too long: N tokens >
 * M maximum" refusal. Internal to the worker.
 */
import Anthropic from "@anthropic-ai/sdk";
import { requestOf, streamMessage, type CallSettings } from "./model-client.ts";

type MessageParam = Anthropic.MessageParam;

/** Compact once a prompt reaches this share of the window. */
export const COMPACT_AT = 0.8;
/** The instruction of the summary turn, at the end of its only message. */
export const SUMMARY_REQUEST = "Summarise the conversation above for yourself, so you can go on with the task from the summary alone";
/** How the new start introduces the summary. */
export const SUMMARY_HEADING = "Summary of the work so far (the earlier conversation was compacted):";

const RESULT_CHARS = 2000;
const INPUT_CHARS = 1000;
/** Characters of transcript per token of window: half the window at about 4 characters a token. */
const TRANSCRIPT_CHARS_PER_TOKEN = 2;

/** What the agent knows of the context: the window and the size of the last prompt. */
export interface ContextState {
  window: number;
  lastPromptTokens: number;
}

/** The token counts of a "prompt is too long" refusal, or null for any other error. */
export function promptTooLong(err: unknown): { tokens: number; maximum: number } | null {
  if (!(err instanceof Anthropic.APIError) || err.status !== 400) return null;
  const match = /prompt is too long: (\d+) tokens > (\d+) maximum/.exec(err.message);
  return match ? { tokens: Number(match[1]), maximum: Number(match[2]) } : null;
}

export function promptTokensOf(usage: Anthropic.Usage | undefined): number {
  return (usage?.input_tokens ?? 0) + (usage?.cache_read_input_tokens ?? 0) + (usage?.cache_creation_input_tokens ?? 0);
}

export function nearsWindow(state: ContextState): boolean {
  return state.lastPromptTokens >= state.window * COMPACT_AT;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)} …[${text.length - max} more characters]`;
}

function resultText(content: Anthropic.ToolResultBlockParam["content"]): string {
  if (typeof content === "string") return content;
  return (content ?? []).map((b) => (b.type === "text" ? b.text : `[${b.type}]`)).join("\n");
}

/** The conversation as plain text: what each side said, the tools called and (clipped) what they returned. */
export function transcriptOf(messages: MessageParam[]): string {
  const lines: string[] = [];
  for (const message of messages) {
    const blocks = typeof message.content === "string" ? [{ type: "text" as const, text: message.content }] : message.content;
    for (const block of blocks) {
      if (block.type === "text") lines.push(`${message.role === "user" ? "User" : "Assistant"}: ${block.text}`);
      else if (block.type === "thinking" && block.thinking !== "") lines.push(`Assistant (reasoning): ${block.thinking}`);
      else if (block.type === "tool_use") lines.push(`Assistant called ${block.name}: ${clip(JSON.stringify(block.input), INPUT_CHARS)}`);
      else if (block.type === "tool_result") lines.push(`Result${block.is_error ? " (error)" : ""}: ${clip(resultText(block.content), RESULT_CHARS)}`);
    }
  }
  return lines.join("\n\n");
}

/** Cuts `text` to `max` characters by leaving out its middle. */
function keepEnds(text: string, max: number): string {
  if (text.length <= max) return text;
  const half = Math.floor(max / 2);
  return `${text.slice(0, half)}\n\n[… ${text.length - 2 * half} characters of the conversation left out …]\n\n${text.slice(-half)}`;
}

/** The user's message still waiting for an answer at the end of the history, if any. */
function pendingUserText(messages: MessageParam[]): string | undefined {
  const last = messages.at(-1);
  if (last?.role !== "user" || messages.length === 1) return undefined;
  if (typeof last.content === "string") return last.content;
  const texts = last.content.filter((b): b is Anthropic.TextBlockParam => b.type === "text").map((b) => b.text);
  return texts.length > 0 ? texts.join("\n\n") : undefined;
}

/**
 * Asks the model for a summary of `messages` and returns the new start: the task's prompt,
 * the summary, and the user's message still waiting, if there is one.
 */
export async function compact(
  client: Anthropic,
  settings: CallSettings,
  messages: MessageParam[],
  prompt: string,
  window: number,
  signal: AbortSignal,
): Promise<MessageParam[]> {
  const transcript = keepEnds(transcriptOf(messages), window * TRANSCRIPT_CHARS_PER_TOKEN);
  const request = requestOf({ ...settings, tools: [] }, [
    { role: "user", content: `${transcript}\n\n${SUMMARY_REQUEST}: the task, what is done, what was found, the files changed, and what is left to do.` },
  ]);
  const answer = await streamMessage(client, request, () => undefined, signal);
  const summary = answer.content
    .filter((b): b is Anthropic.TextBlock => b.type === "text")
    .map((b) => b.text)
    .join("\n\n");
  const waiting = pendingUserText(messages);
  const start = `${prompt}\n\n${SUMMARY_HEADING}\n${summary}\n\n${waiting === undefined ? "Go on with the task from here." : `The user's latest message, not yet answered:\n${waiting}`}`;
  return [{ role: "user", content: start }];
}
