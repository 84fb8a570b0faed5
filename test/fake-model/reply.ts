/**
 * Turns a scripted reply into what the Messages API sends: one JSON message, or the SSE
 * event sequence of a streamed one (message_start, ping, content_block_start/delta/stop per
 * block with text split into several `text_delta`s, thinking into `thinking_delta`s and one
 * `signature_delta`, tool input into several `input_json_delta` pieces, message_delta with
 * usage and stop reason, message_stop).
 *
 * As the current models do, a scripted `thinking` block is up-front thinking (left out under
 * `between_tools`), and the text of an answer that also calls a tool is text between tool
 * calls, which comes back as a thinking block. A thinking block's text is empty under
 * `display: "omitted"`; its signature is always there.
 */
import type { ThinkingMode } from "./thinking.ts";

export type ScriptBlock =
  | { type: "text"; text: string }
  /** Up-front thinking. */
  | { type: "thinking"; thinking: string }
  | { type: "tool_use"; id?: string; name: string; input: Record<string, unknown> };

export interface ScriptUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export interface ScriptReply {
  content: ScriptBlock[];
  stop_reason?: "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "pause_turn" | "refusal";
  usage?: ScriptUsage;
}

let counter = 0;
function nextID(prefix: string): string {
  counter += 1;
  return `${prefix}_fake${String(counter).padStart(6, "0")}`;
}

export interface ThinkingRender {
  mode: ThinkingMode;
  /** The signature of a thinking block whose full text is `full`, returned as `shown`. */
  sign(full: string, shown: string): string;
}

type MessageBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string; signature: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> };

function thinkingBlock(full: string, render: ThinkingRender): MessageBlock {
  const shown = render.mode.display === "summarized" ? full : "";
  return { type: "thinking", thinking: shown, signature: render.sign(full, shown) };
}

/** The complete message object of a reply, with ids filled in; without `render`, text stays text. */
export function messageOf(reply: ScriptReply, model: string, render?: ThinkingRender, inputTokens = 100) {
  const callsTools = reply.content.some((b) => b.type === "tool_use");
  const content = reply.content.flatMap((block): MessageBlock[] => {
    if (block.type === "tool_use") return [{ type: "tool_use", id: block.id ?? nextID("toolu"), name: block.name, input: block.input }];
    if (block.type === "thinking") {
      if (render === undefined) return [];
      return render.mode.type === "between_tools" ? [] : [thinkingBlock(block.thinking, render)];
    }
    if (render !== undefined && callsTools) {
      // Text between tool calls: a progress note, returned with its text even under between_tools.
      const mode: ThinkingMode = render.mode.type === "between_tools" ? { ...render.mode, display: "summarized" } : render.mode;
      return [thinkingBlock(block.text, { ...render, mode })];
    }
    return [{ type: "text", text: block.text }];
  });
  const stopReason = reply.stop_reason ?? (content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn");
  return {
    id: nextID("msg"),
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage: {
      input_tokens: reply.usage?.input_tokens ?? inputTokens,
      output_tokens: reply.usage?.output_tokens ?? 20,
      cache_creation_input_tokens: reply.usage?.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: reply.usage?.cache_read_input_tokens ?? 0,
    },
  };
}

function pieces(text: string, size: number): string[] {
  if (text.length === 0) return [];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function frame(type: string, data: object): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

/** The SSE frames of a streamed reply, in the order the API sends them. */
export function sseFramesOf(message: ReturnType<typeof messageOf>): string[] {
  const frames: string[] = [];
  const { content, usage, stop_reason, ...rest } = message;
  frames.push(
    frame("message_start", {
      message: { ...rest, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    }),
  );
  frames.push(frame("ping", {}));
  content.forEach((block, index) => {
    if (block.type === "text") {
      frames.push(frame("content_block_start", { index, content_block: { type: "text", text: "" } }));
      for (const text of pieces(block.text, 12)) {
        frames.push(frame("content_block_delta", { index, delta: { type: "text_delta", text } }));
      }
    } else if (block.type === "thinking") {
      frames.push(frame("content_block_start", { index, content_block: { type: "thinking", thinking: "", signature: "" } }));
      for (const thinking of pieces(block.thinking, 12)) {
        frames.push(frame("content_block_delta", { index, delta: { type: "thinking_delta", thinking } }));
      }
      frames.push(frame("content_block_delta", { index, delta: { type: "signature_delta", signature: block.signature } }));
    } else {
      frames.push(frame("content_block_start", { index, content_block: { type: "tool_use", id: block.id, name: block.name, input: {} } }));
      for (const partial_json of pieces(JSON.stringify(block.input), 7)) {
        frames.push(frame("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } }));
      }
    }
    frames.push(frame("content_block_stop", { index }));
  });
  frames.push(frame("message_delta", { delta: { stop_reason, stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }));
  frames.push(frame("message_stop", {}));
  return frames;
}
