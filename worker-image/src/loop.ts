/**
 * One user turn of the tool loop: call the model (streaming), relay its text and reasoning,
 * run the tools it asks for, answer with their results, and go on until the model ends its
 * turn or refuses. The runner's proxy alone counts the task's model calls against its budget;
 * a call it refuses at a reached budget waits for a raise and is made again (budget-gate.ts).
 * Every block of an answer goes
 * back into the history unchanged (thinking blocks are signed and checked by the API). When
 * the prompt nears the context window, or the API finds it too long, the conversation is
 * compacted (compaction.ts) and the call made again. A tool call the task's approvals hold
 * back (`gate`) is answered to the model without running. The history is saved after every step.
 * Internal to the worker.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { Effort } from "../../shared/task.ts";
import { compact, nearsWindow, promptTokensOf, promptTooLong, type ContextState } from "./compaction.ts";
import { requestOf, streamMessage, type CallSettings } from "./model-client.ts";
import { runTool, TOOLS } from "./tools/index.ts";
import type { Emit } from "./tools/tool.ts";
import { diffSnapshots, snapshotChanges } from "./workspace-changes.ts";
import type { BudgetGate } from "./budget-gate.ts";

type MessageParam = Anthropic.MessageParam;
type BlockParam = Anthropic.ContentBlockParam;

export class MalformedAnswer extends Error {
  override name = "MalformedAnswer";
}

export class Cancelled extends Error {
  override name = "Cancelled";
}

export interface LoopContext {
  client: Anthropic;
  model: string;
  maxTokens: number;
  system: string;
  effort?: Effort;
  /** The task's prompt, the start of a compacted conversation. */
  prompt: string;
  /** The context window and the last prompt's size, kept across turns. */
  context: ContextState;
  root: string;
  turn: number;
  /** Holds a call refused at a reached budget until the runner says it was raised. */
  budget: BudgetGate;
  commandTimeoutMs: number;
  emit: Emit;
  signal: AbortSignal;
  /** Persists `messages` as they stand. */
  save(): Promise<void>;
  /** Whether a tool call may run now (approvals.ts): null runs it, else what the model reads instead. */
  gate?(name: string, input: Record<string, unknown>): Promise<{ reason: string; summary: string } | null>;
}

export interface TurnResult {
  stopReason: string;
  /** The text of the last assistant message with text. */
  text: string;
}

const CUT_OFF = "Your answer hit the output token limit; this tool call may be incomplete and was not run. Send it again, smaller (split big files into several edits).";

/** The history as it is sent: a cache breakpoint on the last block of the last message. */
export function withCacheBreakpoint(messages: MessageParam[]): MessageParam[] {
  const last = messages.at(-1);
  if (last === undefined) return messages;
  const blocks: BlockParam[] = typeof last.content === "string" ? [{ type: "text", text: last.content }] : [...last.content];
  const end = blocks.at(-1);
  if (end === undefined || end.type === "thinking" || end.type === "redacted_thinking") return messages;
  blocks[blocks.length - 1] = { ...end, cache_control: { type: "ephemeral" } } as BlockParam;
  return [...messages.slice(0, -1), { ...last, content: blocks } as MessageParam];
}

/** Appends a user text, joining it to a user message already last (roles must alternate). */
export function appendUserText(messages: MessageParam[], text: string): void {
  const last = messages.at(-1);
  if (last?.role !== "user") {
    messages.push({ role: "user", content: text });
    return;
  }
  const blocks: BlockParam[] = typeof last.content === "string" ? [{ type: "text", text: last.content }] : [...last.content];
  last.content = [...blocks, { type: "text", text }];
}

/** The blocks of an answer as they go back into the history; thinking blocks exactly as they came. */
function paramsOf(content: Anthropic.ContentBlock[]): BlockParam[] {
  return content.map((block): BlockParam => {
    if (block.type === "text") return { type: "text", text: block.text };
    if (block.type === "tool_use") return { type: "tool_use", id: block.id, name: block.name, input: block.input };
    return block as unknown as BlockParam;
  });
}

/** Replaces the history with its compacted start. */
async function compactHistory(messages: MessageParam[], ctx: LoopContext, settings: CallSettings): Promise<void> {
  const start = await compact(ctx.client, settings, messages, ctx.prompt, ctx.context.window, ctx.signal);
  messages.splice(0, messages.length, ...start);
  ctx.context.lastPromptTokens = 0;
  await ctx.save();
}

/**
 * One model call, compacting the history first when the last prompt neared the window, or
 * once after the API refused this one as too long (a second refusal is the call's failure).
 */
async function callModel(messages: MessageParam[], ctx: LoopContext, settings: CallSettings): Promise<Anthropic.Message> {
  let compactedFrom: number | undefined;
  if (nearsWindow(ctx.context)) {
    compactedFrom = ctx.context.lastPromptTokens;
    await compactHistory(messages, ctx, settings);
  }
  for (;;) {
    try {
      const answer = await streamMessage(
        ctx.client,
        requestOf(settings, withCacheBreakpoint(messages)),
        (text) => ctx.emit({ type: "agent.text.delta", data: { turn: ctx.turn, text } }),
        ctx.signal,
      );
      ctx.context.lastPromptTokens = promptTokensOf(answer.usage);
      if (compactedFrom !== undefined) {
        ctx.emit({ type: "context.compacted", data: { turn: ctx.turn, tokensBefore: compactedFrom, tokensAfter: ctx.context.lastPromptTokens } });
      }
      return answer;
    } catch (err) {
      const tooLong = promptTooLong(err);
      if (tooLong === null || compactedFrom !== undefined) throw err;
      ctx.context.window = Math.min(ctx.context.window, tooLong.maximum);
      compactedFrom = tooLong.tokens;
      await compactHistory(messages, ctx, settings);
    }
  }
}

function textOf(content: Anthropic.ContentBlock[]): string {
  return content
    .filter((b): b is Anthropic.TextBlock => b.type === "text")
    .map((b) => b.text)
    .join("\n\n");
}

async function runTools(uses: Anthropic.ToolUseBlock[], ctx: LoopContext): Promise<Anthropic.ToolResultBlockParam[]> {
  const results: Anthropic.ToolResultBlockParam[] = [];
  for (const use of uses) {
    if (ctx.signal.aborted) {
      results.push({ type: "tool_result", tool_use_id: use.id, content: "Not run: the task was cancelled.", is_error: true });
      continue;
    }
    const input = (typeof use.input === "object" && use.input !== null ? use.input : { value: use.input }) as Record<string, unknown>;
    ctx.emit({ type: "tool.start", data: { callID: use.id, name: use.name, input } });
    const held = ctx.gate ? await ctx.gate(use.name, input) : null;
    if (held) {
      ctx.emit({ type: "tool.end", data: { callID: use.id, ok: false, summary: held.summary } });
      results.push({ type: "tool_result", tool_use_id: use.id, content: held.reason, is_error: true });
      continue;
    }
    const before = use.name === "bash" ? await snapshotChanges(ctx.root) : null;
    const result = await runTool(use.name, use.input, { root: ctx.root, callID: use.id, emit: ctx.emit, signal: ctx.signal, commandTimeoutMs: ctx.commandTimeoutMs });
    if (before !== null) {
      for (const change of diffSnapshots(before, await snapshotChanges(ctx.root))) ctx.emit({ type: "file.changed", data: change });
    }
    ctx.emit({ type: "tool.end", data: { callID: use.id, ok: result.ok, summary: result.summary.slice(0, 4000), ...(result.exitCode === undefined ? {} : { exitCode: result.exitCode }) } });
    results.push({ type: "tool_result", tool_use_id: use.id, content: result.content, ...(result.ok ? {} : { is_error: true }) });
  }
  return results;
}

export async function runTurn(messages: MessageParam[], ctx: LoopContext): Promise<TurnResult> {
  let lastText = "";
  let paused = false;
  const settings: CallSettings = { model: ctx.model, maxTokens: ctx.maxTokens, system: ctx.system, tools: TOOLS.map((t) => t.definition), effort: ctx.effort };
  // Bounded by the task's budget: the proxy refuses the call past any limit.
  for (;;) {
    let answer: Anthropic.Message;
    try {
      answer = await ctx.budget.call(() => callModel(messages, ctx, settings), ctx.signal, () => new Cancelled("cancelled while waiting for a budget raise"));
    } catch (err) {
      if (ctx.signal.aborted) throw new Cancelled("cancelled during a model call");
      throw err;
    }
    if (!Array.isArray(answer.content)) throw new MalformedAnswer("the model's answer has no content list");
    for (const block of answer.content) {
      if (block.type === "thinking" && block.thinking !== "") ctx.emit({ type: "agent.thinking", data: { turn: ctx.turn, text: block.thinking } });
    }
    const text = textOf(answer.content);
    if (text !== "") {
      lastText = text;
      ctx.emit({ type: "agent.text", data: { turn: ctx.turn, text } });
    }
    const usage = answer.usage;
    ctx.emit({
      type: "usage",
      data: {
        model: answer.model || ctx.model,
        inputTokens: usage?.input_tokens ?? 0,
        outputTokens: usage?.output_tokens ?? 0,
        cacheReadTokens: usage?.cache_read_input_tokens ?? 0,
        cacheWriteTokens: usage?.cache_creation_input_tokens ?? 0,
        // The worker knows no prices; the runner's proxy reports the cost.
        costUSD: null,
      },
    });
    const uses = answer.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
    const blocks = paramsOf(answer.content);
    const previous = messages.at(-1);
    if (paused && previous?.role === "assistant" && Array.isArray(previous.content)) previous.content = [...previous.content, ...blocks];
    else if (blocks.length > 0) messages.push({ role: "assistant", content: blocks });
    paused = false;

    switch (answer.stop_reason) {
      case "tool_use": {
        if (uses.length === 0) throw new MalformedAnswer("the model stopped for tool_use but asked for no tool");
        const results = await runTools(uses, ctx);
        messages.push({ role: "user", content: results });
        await ctx.save();
        if (ctx.signal.aborted) throw new Cancelled("cancelled while a tool ran");
        break;
      }
      case "pause_turn":
        // A long server-side step paused: sending the history back lets the model go on.
        paused = blocks.length > 0;
        await ctx.save();
        break;
      case "max_tokens":
        if (blocks.length === 0) throw new MalformedAnswer("the model hit max_tokens without producing anything");
        if (uses.length > 0) messages.push({ role: "user", content: uses.map((u) => ({ type: "tool_result", tool_use_id: u.id, content: CUT_OFF, is_error: true })) });
        else messages.push({ role: "user", content: "Your answer was cut off at the output token limit. Continue exactly where you stopped." });
        await ctx.save();
        break;
      case "end_turn":
      case "stop_sequence":
      case "refusal":
      case "model_context_window_exceeded":
        if (uses.length > 0) {
          // Every tool_use needs a result before the next user message.
          messages.push({ role: "user", content: uses.map((u) => ({ type: "tool_result", tool_use_id: u.id, content: "Not run: the turn ended.", is_error: true })) });
        }
        await ctx.save();
        return { stopReason: answer.stop_reason, text: lastText };
      default:
        throw new MalformedAnswer(`the model's answer has an unknown stop_reason ${JSON.stringify(answer.stop_reason)}`);
    }
  }
}
