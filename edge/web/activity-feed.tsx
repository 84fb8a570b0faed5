/** The live activity of a task, item by item, as the feed model describes it; the agent's reasoning shows collapsed beside its tool calls. */
import { useEffect, useState } from "preact/hooks";
import type { BudgetRaisedData } from "../../shared/budget.ts";
import { BUDGET_LIMITS } from "../../shared/task-helpers.ts";
import type { FeedItem, ToolOutput } from "../../shared/client/light.ts";
import { AnsiText } from "./ansi-text.tsx";
import { ApprovalLine } from "./approval-card.tsx";
import { clock, formatTokens, STATUS_LABEL } from "./format.tsx";
import { Link } from "./router.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";

export function ActivityFeed({ items, taskID }: { items: FeedItem[]; taskID: string }) {
  if (items.length === 0) return <p class="muted center">Waiting for the first event…</p>;
  return (
    <ol class="feed" aria-label="Activity">
      {items.map((item) => (
        <li key={item.key} class={`item item-${item.kind}`} data-kind={item.kind}>
          <Item item={item} taskID={taskID} />
        </li>
      ))}
    </ol>
  );
}

function Item({ item, taskID }: { item: FeedItem; taskID: string }) {
  switch (item.kind) {
    case "assistant":
      return (
        <div class="bubble agent" aria-busy={item.streaming ? "true" : undefined}>
          {item.text}
          {item.streaming && <span class="caret" aria-hidden="true" />}
        </div>
      );
    case "thinking":
      return (
        <details class="thinking">
          <summary>
            <span class="thinking-label">Reasoning</span> <span class="thinking-preview">{short(item.text.split("\n", 1)[0] ?? "")}</span>
          </summary>
          <p class="thinking-text">{item.text}</p>
        </details>
      );
    case "compacted":
      return (
        <p class="status-line">
          Conversation compacted: {formatTokens(item.tokensBefore)} → {formatTokens(item.tokensAfter)} tokens
        </p>
      );
    case "user":
      return (
        <div class="bubble user">
          <span class="sr-only">You said: </span>
          {item.text}
        </div>
      );
    case "tool":
      return <ToolCall item={item} />;
    case "file":
      return (
        <p class="file-change">
          <span class={`change change-${item.change}`}>{item.change}</span> <code>{item.path}</code>
        </p>
      );
    case "status":
      return (
        <p class="status-line">
          <span>
            {STATUS_LABEL[item.status]}
            {item.reason && <span class="reason">: {item.reason}</span>}
          </span>
          <time dateTime={item.ts}>{clock(item.ts)}</time>
        </p>
      );
    case "finish":
      return <p class="status-line">Finish asked by {item.by}</p>;
    case "cancel":
      return <p class="status-line">Cancel asked by {item.by}</p>;
    case "log":
      return <p class={`log log-${item.level}`}>{item.message}</p>;
    case "error":
      return (
        <p class="banner error">
          <strong>{item.code}</strong>: {item.message}
        </p>
      );
    case "done":
      return (
        <div class={`done ${item.ok ? "ok" : "failed"}`}>
          <strong>{item.ok ? "Done" : "Stopped"}</strong>
          <p>{item.summary}</p>
        </div>
      );
    case "diff":
      return (
        <p class="diff-line">
          {item.diff.files} file{item.diff.files === 1 ? "" : "s"} changed, <span class="add">+{item.diff.insertions}</span>{" "}
          <span class="del">−{item.diff.deletions}</span>
          {item.diff.branch && (
            <>
              {" "}
              on {item.diff.branch}
              {item.diff.pushed === false && " (not pushed)"}
            </>
          )}{" "}
          {item.diff.files > 0 && (
            <Link href={`/tasks/${encodeURIComponent(taskID)}/diff`} class="inline-target">
              View changes
            </Link>
          )}
        </p>
      );
    case "setup":
      return <SetupStep item={item} />;
    case "setup-done":
      return <SetupDone item={item} />;
    case "egress":
      return <EgressAttempt item={item} taskID={taskID} />;
    case "approval":
      return <ApprovalLine item={item} />;
    case "egress-allow":
      return (
        <p class="status-line egress-decision">
          Allowed <code>{item.host}</code> for this task ({item.by})
        </p>
      );
    case "budget-reached":
      return <p class="status-line budget-line">Budget reached: {item.reached.reason}</p>;
    case "budget-raised":
      return <p class="status-line">Limits raised by {item.raised.by}: {raisedText(item.raised)}</p>;
  }
}

/** The limits a raise changed, as `name old → new`. */
function raisedText(raised: BudgetRaisedData): string {
  const names = { maxTurns: "model calls", maxTokens: "tokens", maxCostUSD: "cost ($)", timeoutMinutes: "minutes" } as const;
  const changed = BUDGET_LIMITS.filter((name) => raised.limits[name] !== raised.previous[name]);
  return changed.map((name) => `${names[name]} ${raised.previous[name] ?? "none"} → ${raised.limits[name]}`).join(", ");
}

function seconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "" : `${(ms / 1000).toFixed(1)} s`;
}

function SetupStep({ item }: { item: Extract<FeedItem, { kind: "setup" }> }) {
  const state = item.state === "running" ? "running…" : `exit ${item.exitCode ?? "killed"} · ${seconds(item.durationMs)}`;
  return (
    <details class={`tool tool-${item.state} setup-step`} open={item.state === "failed"}>
      <summary>
        <span class="tool-name">setup {item.step}</span>
        <code class="tool-preview">{item.command}</code>
        <span class="tool-state">{state}</span>
      </summary>
      <div class="tool-body">
        <p class="hint">from the {item.source === "request" ? "task's script" : item.source === "environment" ? "saved environment" : "repository's .tether/setup.sh"}</p>
        <Terminal label="Setup output" output={item.output} droppedChars={item.droppedChars} />
      </div>
    </details>
  );
}

/** A command's output as a terminal shows it (colours kept), saying how much of its start was cut. */
function Terminal({ label, output, droppedChars }: { label: string; output: ToolOutput[]; droppedChars: number }) {
  if (output.length === 0) return null;
  return (
    <pre class="terminal" aria-label={label}>
      {droppedChars > 0 && <span class="cut">… {droppedChars} earlier characters not shown{"\n"}</span>}
      {output.map((o, i) => (
        <span key={i} class={o.stream}>
          <AnsiText text={o.text} />
        </span>
      ))}
    </pre>
  );
}

function SetupDone({ item }: { item: Extract<FeedItem, { kind: "setup-done" }> }) {
  const { done } = item;
  if (done.cache === "hit") return <p class="status-line setup-done">Cache hit — setup skipped, saved {seconds(done.savedMs)}</p>;
  if (!done.ok) return <p class="banner error setup-done">Setup failed{done.reason ? `: ${done.reason}` : ""}</p>;
  return <p class="status-line setup-done">Setup done in {seconds(done.durationMs)}</p>;
}

function EgressAttempt({ item, taskID }: { item: Extract<FeedItem, { kind: "egress" }>; taskID: string }) {
  const { client } = useSession();
  const [state, setState] = useState<{ busy: boolean; error: string | null }>({ busy: false, error: null });
  const times = item.count > 1 ? ` ×${item.count}` : "";
  const target = `${item.host}:${item.port}`;
  if (item.allowed) {
    return (
      <p class="log log-info egress egress-allowed">
        Network ({item.phase}): <code>{target}</code>
        {times}, {item.bytes} bytes
      </p>
    );
  }
  async function allow() {
    setState({ busy: true, error: null });
    try {
      await client.allowEgress(taskID, item.rule);
      setState({ busy: false, error: null });
    } catch (err) {
      setState({ busy: false, error: messageOf(err) });
    }
  }
  return (
    <div class="banner warn egress egress-denied" role="status">
      <p>
        <strong>Blocked</strong> ({item.phase}): <code>{target}</code>
        {times}
        {item.reason && <span class="reason"> — {item.reason}</span>}
      </p>
      {item.settled ? (
        <p class="hint">Allowed since.</p>
      ) : (
        <button type="button" class="button small" onClick={allow} disabled={state.busy}>
          {state.busy ? "Allowing…" : `Allow ${item.rule} for this task`}
        </button>
      )}
      {state.error && <p class="field-error">{state.error}</p>}
    </div>
  );
}

function ToolCall({ item }: { item: Extract<FeedItem, { kind: "tool" }> }) {
  const [key, preview] = toolPreview(item.input);
  // The summary's preview, cut, shows in full (wrapped) below it; the other inputs by name, as text.
  const rest = Object.entries(item.input).filter(([k]) => k !== key && !(key === "command" && k === "path" && typeof item.input.path === "string"));
  return (
    <details class={`tool tool-${item.state}`}>
      <summary>
        <span class="tool-name">{item.name}</span>
        {preview && <code class="tool-preview">{preview}</code>}
        <span class="tool-state">
          {item.state === "running" ? <Elapsed since={item.ts} /> : item.state === "ok" ? "ok" : `failed${item.exitCode !== null ? ` (exit ${item.exitCode})` : ""}`}
        </span>
      </summary>
      <div class="tool-body">
        {key && fullPreview(item.input) !== preview && <pre class="tool-input">{fullPreview(item.input)}</pre>}
        {rest.length > 0 && (
          <dl class="tool-args">
            {rest.map(([k, v]) => (
              <div key={k}>
                <dt>{k}</dt>
                <dd>
                  <pre class="tool-input">{typeof v === "string" ? v : JSON.stringify(v, null, 2)}</pre>
                </dd>
              </div>
            ))}
          </dl>
        )}
        <Terminal label="Output" output={item.output} droppedChars={item.droppedChars} />
        {item.summary && <p class="tool-summary">{item.summary}</p>}
      </div>
    </details>
  );
}

/** "running 12 s": the time since a call started, counted each second. */
function Elapsed({ since }: { since: string }) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const s = Math.max(0, Math.floor((now - Date.parse(since)) / 1000));
  return <span class="elapsed">running {s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`}</span>;
}

/** The input that says what a tool call does (a command, a path, a pattern): its key and a one-line preview. */
function toolPreview(input: Record<string, unknown>): [string | null, string] {
  const full = fullPreview(input);
  if (!full) return [null, ""];
  const key = typeof input.command === "string" && input.command ? "command" : (PREVIEW_KEYS.find((k) => typeof input[k] === "string" && input[k]) ?? null);
  return [key, short(full)];
}

const PREVIEW_KEYS = ["command", "cmd", "path", "file_path", "pattern", "query", "url"];

/** The previewed input in full: an editor's `command path` together, else the first of PREVIEW_KEYS. */
function fullPreview(input: Record<string, unknown>): string {
  const { command, path } = input;
  if (typeof command === "string" && typeof path === "string") return `${command} ${path}`;
  for (const key of PREVIEW_KEYS) {
    const v = input[key];
    if (typeof v === "string" && v) return v;
  }
  return "";
}

function short(text: string): string {
  const line = text.split("\n", 1)[0] ?? "";
  return line.length > 120 || line.length < text.length ? `${line.slice(0, 119)}…` : line;
}
