/**
 * What every tool is: its definition for the model and a `run` that gets the model's input
 * and a context (workspace root, the call's id, an event sink, the cancel signal) and
 * answers with the text the model sees. Internal to the worker.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { AgentEventBody } from "../../../shared/events.ts";

/** Emits one agent event (the writer adds `wseq`). */
export type Emit = (event: AgentEventBody) => void;

export interface ToolContext {
  /** The workspace's real path. */
  root: string;
  callID: string;
  emit: Emit;
  signal: AbortSignal;
  /** How long a shell command may run when its input names no timeout. */
  commandTimeoutMs: number;
}

export interface ToolResult {
  ok: boolean;
  /** What the model sees as the tool_result. */
  content: string;
  /** One line for `tool.end`. */
  summary: string;
  exitCode?: number | null;
}

export interface Tool {
  name: string;
  definition: Anthropic.ToolUnion;
  run(input: Record<string, unknown>, ctx: ToolContext): Promise<ToolResult>;
}

/** An expected failure of a tool call (bad input, path outside the workspace): told to the model, not thrown further. */
export class ToolError extends Error {
  override name = "ToolError";
}

export function stringField(input: Record<string, unknown>, key: string, required: true): string;
export function stringField(input: Record<string, unknown>, key: string, required?: false): string | undefined;
export function stringField(input: Record<string, unknown>, key: string, required = false): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) {
    if (required) throw new ToolError(`the input field "${key}" is required`);
    return undefined;
  }
  if (typeof value !== "string") throw new ToolError(`the input field "${key}" must be a string`);
  return value;
}
