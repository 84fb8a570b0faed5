/**
 * Folds a task's events into what an activity feed shows: assistant messages with their
 * streamed text joined, the agent's reasoning (its thinking and its notes between tool calls),
 * compactions of its conversation, tool calls with their input, output and result, file edits, status
 * changes, the user's follow-ups, the running usage, the setup phase (each step with its
 * output, exit code and duration; the end, or a cache hit with the time saved) and egress
 * (attempts grouped by phase, host, port and decision, with counts and bytes; the user's
 * allowances, which settle the denials of the host they allow), the budget (a limit reached,
 * which the feed holds as `budget` until a raise, the task running again, or its end, and the
 * raise) and approvals (each question, pending until its answer or its expiry). Pure and
 * platform-free, so a web
 * app and a native app render the same model. `applyEvents` returns a new `Feed` and new
 * objects only for the items that changed, so a renderer can compare by identity.
 */
import type { BudgetRaisedData, BudgetReachedData } from "../budget.ts";
import type { EventData } from "../events.ts";
import type { TaskStatus, Usage } from "../task.ts";
import { EMPTY_USAGE, addUsage, isTerminal } from "../task-helpers.ts";
import type { KnownEvent } from "./task-stream.ts";

/** Output kept per tool call; older output is cut from the front. */
export const MAX_TOOL_OUTPUT_CHARS = 200_000;

export type ToolOutput = { stream: "stdout" | "stderr"; text: string };

export type FeedItem =
  | { kind: "assistant"; key: string; seq: number; turn: number; text: string; streaming: boolean }
  | { kind: "thinking"; key: string; seq: number; turn: number; text: string }
  | { kind: "compacted"; key: string; seq: number; tokensBefore: number; tokensAfter: number }
  | { kind: "user"; key: string; seq: number; ts: string; text: string; by: string }
  | {
      kind: "tool";
      key: string;
      seq: number;
      /** When the call started. */
      ts: string;
      callID: string;
      name: string;
      input: Record<string, unknown>;
      output: ToolOutput[];
      /** Characters cut from the front of `output`. */
      droppedChars: number;
      state: "running" | "ok" | "failed";
      summary: string | null;
      exitCode: number | null;
    }
  | { kind: "file"; key: string; seq: number; path: string; change: "created" | "modified" | "deleted" }
  | { kind: "status"; key: string; seq: number; ts: string; status: TaskStatus; reason: string | null }
  | { kind: "finish"; key: string; seq: number; by: string }
  | { kind: "cancel"; key: string; seq: number; by: string }
  | { kind: "log"; key: string; seq: number; level: "info" | "warn" | "error"; message: string }
  | { kind: "error"; key: string; seq: number; code: string; message: string }
  | { kind: "done"; key: string; seq: number; ok: boolean; summary: string }
  | { kind: "diff"; key: string; seq: number; diff: EventData<"diff"> }
  | {
      kind: "setup";
      key: string;
      seq: number;
      step: number;
      command: string;
      source: EventData<"setup.step">["source"];
      output: ToolOutput[];
      droppedChars: number;
      state: "running" | "ok" | "failed";
      exitCode: number | null;
      durationMs: number | null;
    }
  | { kind: "setup-done"; key: string; seq: number; done: EventData<"setup.done"> }
  | {
      kind: "egress";
      key: string;
      seq: number;
      phase: "setup" | "agent";
      host: string;
      port: number;
      allowed: boolean;
      /** Attempts folded into this item, and their bytes. */
      count: number;
      bytes: number;
      reason: string | null;
      /** The rule that allows it (`host`, or `host:port` off 443 and 80), what the allow button sends. */
      rule: string;
      /** A denial the user has since allowed. */
      settled: boolean;
    }
  | { kind: "egress-allow"; key: string; seq: number; host: string; by: string }
  | { kind: "budget-reached"; key: string; seq: number; reached: BudgetReachedData }
  | { kind: "budget-raised"; key: string; seq: number; raised: BudgetRaisedData }

  | {
      kind: "approval";
      key: string;
      seq: number;
      approvalID: string;
      /** What it asks about: a plan, a command, a file write. */
      about: EventData<"approval.requested">["kind"];
      subject: string;
      state: "pending" | "answered" | "expired";
      /** The answer, once there is one: who (a user, or "rule" for an always answer), what, an edited plan's text. */
      answer: { decision: EventData<"approval.answered">["decision"]; by: string; text: string | null } | null;
    };

export type EgressTotals = { allowed: number; denied: number; bytes: number };

export interface Feed {
  items: FeedItem[];
  status: TaskStatus | null;
  usage: Usage;
  diff: EventData<"diff"> | null;
  egress: EgressTotals;
  /** The budget the task is paused at, until a raise or the end; its `seq`. */
  budget: { seq: number; reached: BudgetReachedData } | null;
  lastSeq: number;
}

export const EMPTY_FEED: Feed = { items: [], status: null, usage: EMPTY_USAGE, diff: null, egress: { allowed: 0, denied: 0, bytes: 0 }, budget: null, lastSeq: 0 };

export function applyEvents(feed: Feed, events: readonly KnownEvent[]): Feed {
  if (events.length === 0) return feed;
  const next: Feed = { ...feed, items: feed.items.slice() };
  for (const event of events) {
    if (event.seq <= next.lastSeq) continue;
    next.lastSeq = event.seq;
    applyOne(next, event);
  }
  return next;
}

function applyOne(feed: Feed, event: KnownEvent): void {
  const key = `e${event.seq}`;
  const items = feed.items;
  switch (event.type) {
    case "agent.text.delta": {
      const i = findStreaming(items, event.data.turn);
      if (i >= 0) {
        const item = items[i] as Extract<FeedItem, { kind: "assistant" }>;
        items[i] = { ...item, text: item.text + event.data.text };
      } else {
        items.push({ kind: "assistant", key, seq: event.seq, turn: event.data.turn, text: event.data.text, streaming: true });
      }
      return;
    }
    case "agent.text": {
      const i = findStreaming(items, event.data.turn);
      if (i >= 0) {
        items[i] = { ...(items[i] as Extract<FeedItem, { kind: "assistant" }>), text: event.data.text, streaming: false };
      } else {
        items.push({ kind: "assistant", key, seq: event.seq, turn: event.data.turn, text: event.data.text, streaming: false });
      }
      return;
    }
    case "agent.thinking":
      items.push({ kind: "thinking", key, seq: event.seq, turn: event.data.turn, text: event.data.text });
      return;
    case "context.compacted":
      items.push({ kind: "compacted", key, seq: event.seq, tokensBefore: event.data.tokensBefore, tokensAfter: event.data.tokensAfter });
      return;
    case "tool.start":
      closeStreaming(items);
      items.push({
        kind: "tool",
        key,
        seq: event.seq,
        ts: event.ts,
        callID: event.data.callID,
        name: event.data.name,
        input: event.data.input,
        output: [],
        droppedChars: 0,
        state: "running",
        summary: null,
        exitCode: null,
      });
      return;
    case "tool.output":
      updateTool(items, event.data.callID, (tool) => appendOutput(tool, { stream: event.data.stream, text: event.data.text }));
      return;
    case "tool.end":
      updateTool(items, event.data.callID, (tool) => ({
        ...tool,
        state: event.data.ok ? "ok" : "failed",
        summary: event.data.summary,
        exitCode: event.data.exitCode ?? null,
      }));
      return;
    case "file.changed":
      items.push({ kind: "file", key, seq: event.seq, path: event.data.path, change: event.data.change });
      return;
    case "status":
      feed.status = event.data.status;
      if (event.data.status === "running" || isTerminal(event.data.status)) feed.budget = null;
      items.push({ kind: "status", key, seq: event.seq, ts: event.ts, status: event.data.status, reason: event.data.reason ?? null });
      return;
    case "user.message":
      closeStreaming(items);
      items.push({ kind: "user", key, seq: event.seq, ts: event.ts, text: event.data.text, by: event.data.by });
      return;
    case "user.finish":
    case "user.cancel":
      items.push({ kind: event.type === "user.finish" ? "finish" : "cancel", key, seq: event.seq, by: event.data.by });
      return;
    case "usage":
      feed.usage = addUsage(feed.usage, event.data);
      return;
    case "turn.end":
      closeStreaming(items);
      return;
    case "error":
      items.push({ kind: "error", key, seq: event.seq, code: event.data.code, message: event.data.message });
      return;
    case "done":
      closeStreaming(items);
      items.push({ kind: "done", key, seq: event.seq, ok: event.data.ok, summary: event.data.summary });
      return;
    case "diff":
      feed.diff = event.data;
      items.push({ kind: "diff", key, seq: event.seq, diff: event.data });
      return;
    case "log":
      items.push({ kind: "log", key, seq: event.seq, level: event.data.level, message: event.data.message });
      return;
    case "setup.step":
      if (event.data.state === "started") {
        items.push({ kind: "setup", key, seq: event.seq, step: event.data.step, command: event.data.command, source: event.data.source, output: [], droppedChars: 0, state: "running", exitCode: null, durationMs: null });
      } else {
        const exitCode = event.data.exitCode ?? null;
        updateSetup(items, event.data.step, (item) => ({ ...item, state: exitCode === 0 ? "ok" : "failed", exitCode, durationMs: event.data.durationMs ?? null }));
      }
      return;
    case "setup.output":
      updateSetup(items, event.data.step, (item) => appendOutput(item, { stream: event.data.stream, text: event.data.text }));
      return;
    case "setup.done":
      items.push({ kind: "setup-done", key, seq: event.seq, done: event.data });
      return;
    case "egress": {
      const { phase, host, port, allowed, bytes } = event.data;
      feed.egress = { allowed: feed.egress.allowed + (allowed ? 1 : 0), denied: feed.egress.denied + (allowed ? 0 : 1), bytes: feed.egress.bytes + bytes };
      const i = items.findIndex((it) => it.kind === "egress" && it.phase === phase && it.host === host && it.port === port && it.allowed === allowed && !it.settled);
      if (i >= 0) {
        const item = items[i] as Extract<FeedItem, { kind: "egress" }>;
        items[i] = { ...item, count: item.count + 1, bytes: item.bytes + bytes, reason: event.data.reason ?? item.reason };
      } else {
        items.push({ kind: "egress", key, seq: event.seq, phase, host, port, allowed, count: 1, bytes, reason: event.data.reason ?? null, rule: ruleOf(host, port), settled: false });
      }
      return;
    }
    case "approval.requested":
      closeStreaming(items);
      items.push({ kind: "approval", key, seq: event.seq, approvalID: event.data.approvalID, about: event.data.kind, subject: event.data.subject, state: "pending", answer: null });
      return;
    case "approval.answered":
    case "approval.expired": {
      const i = items.findIndex((it) => it.kind === "approval" && it.approvalID === event.data.approvalID);
      if (i < 0) return;
      const item = items[i] as Extract<FeedItem, { kind: "approval" }>;
      items[i] =
        event.type === "approval.answered"
          ? { ...item, state: "answered", answer: { decision: event.data.decision, by: event.data.by, text: event.data.text ?? null } }
          : { ...item, state: "expired" };
      return;
    }
    case "user.egress":
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        if (item.kind === "egress" && !item.allowed && !item.settled && item.rule === event.data.host) items[i] = { ...item, settled: true };
      }
      items.push({ kind: "egress-allow", key, seq: event.seq, host: event.data.host, by: event.data.by });
      return;
    case "budget.reached":
      feed.budget = { seq: event.seq, reached: event.data };
      items.push({ kind: "budget-reached", key, seq: event.seq, reached: event.data });
      return;
    case "budget.raised":
      feed.budget = null;
      items.push({ kind: "budget-raised", key, seq: event.seq, raised: event.data });
      return;
  }
}

/** What the proxy takes to allow `host` on `port`: the host alone for 443 and 80. */
function ruleOf(host: string, port: number): string {
  return port === 443 || port === 80 ? host : `${host}:${port}`;
}

type SetupItem = Extract<FeedItem, { kind: "setup" }>;

function updateSetup(items: FeedItem[], step: number, change: (item: SetupItem) => SetupItem): void {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.kind === "setup" && item.step === step) {
      items[i] = change(item);
      return;
    }
  }
}

/** The assistant message of `turn` still receiving text, if it is the newest text item. */
function findStreaming(items: FeedItem[], turn: number): number {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.kind === "assistant") return item.streaming && item.turn === turn ? i : -1;
    if (item.kind === "tool" || item.kind === "user") return -1;
  }
  return -1;
}

function closeStreaming(items: FeedItem[]): void {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.kind === "assistant" && item.streaming) items[i] = { ...item, streaming: false };
  }
}

type ToolItem = Extract<FeedItem, { kind: "tool" }>;

function updateTool(items: FeedItem[], callID: string, change: (tool: ToolItem) => ToolItem): void {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!;
    if (item.kind === "tool" && item.callID === callID) {
      items[i] = change(item);
      return;
    }
  }
}

function appendOutput<T extends { output: ToolOutput[]; droppedChars: number }>(tool: T, chunk: ToolOutput): T {
  const output = tool.output.slice();
  const last = output[output.length - 1];
  if (last && last.stream === chunk.stream) output[output.length - 1] = { ...last, text: last.text + chunk.text };
  else output.push(chunk);
  let total = output.reduce((n, o) => n + o.text.length, 0);
  let dropped = tool.droppedChars;
  while (total > MAX_TOOL_OUTPUT_CHARS && output.length > 0) {
    const first = output[0]!;
    const cut = Math.min(first.text.length, total - MAX_TOOL_OUTPUT_CHARS);
    if (cut === first.text.length) output.shift();
    else output[0] = { ...first, text: first.text.slice(cut) };
    total -= cut;
    dropped += cut;
  }
  return { ...tool, output, droppedChars: dropped };
}
