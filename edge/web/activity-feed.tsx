/** The live activity of a task, item by item, as the feed model describes it; the agent's reasoning shows collapsed beside its tool calls. */
import type { FeedItem } from "../../shared/client/index.ts";
import { AnsiText } from "./ansi-text.tsx";
import { clock, formatTokens, STATUS_LABEL } from "./format.tsx";
import { Link } from "./router.tsx";

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
          {item.diff.branch && <> on {item.diff.branch}</>} <Link href={`/tasks/${encodeURIComponent(taskID)}/diff`}>View changes</Link>
        </p>
      );
  }
}

function ToolCall({ item }: { item: Extract<FeedItem, { kind: "tool" }> }) {
  const preview = toolPreview(item.input);
  return (
    <details class={`tool tool-${item.state}`}>
      <summary>
        <span class="tool-name">{item.name}</span>
        {preview && <code class="tool-preview">{preview}</code>}
        <span class="tool-state">
          {item.state === "running" ? "running…" : item.state === "ok" ? "ok" : `failed${item.exitCode !== null ? ` (exit ${item.exitCode})` : ""}`}
        </span>
      </summary>
      <div class="tool-body">
        <pre class="tool-input">{JSON.stringify(item.input, null, 2)}</pre>
        {item.output.length > 0 && (
          <pre class="terminal" aria-label="Output">
            {item.droppedChars > 0 && <span class="cut">… {item.droppedChars} earlier characters not shown{"\n"}</span>}
            {item.output.map((o, i) => (
              <span key={i} class={o.stream}>
                <AnsiText text={o.text} />
              </span>
            ))}
          </pre>
        )}
        {item.summary && <p class="tool-summary">{item.summary}</p>}
      </div>
    </details>
  );
}

/** The one input that says what a tool call does: a command, a path, a pattern. */
function toolPreview(input: Record<string, unknown>): string {
  const { command, path } = input;
  if (typeof command === "string" && typeof path === "string") return short(`${command} ${path}`);
  for (const key of ["command", "cmd", "path", "file_path", "pattern", "query", "url"]) {
    const v = input[key];
    if (typeof v === "string" && v) return short(v);
  }
  return "";
}

function short(text: string): string {
  return text.length > 120 ? `${text.slice(0, 119)}…` : text;
}
