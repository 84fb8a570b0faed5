/** The live activity of a task, item by item, as the feed model describes it. */
import { useState } from "preact/hooks";
import type { FeedItem } from "../../shared/client/index.ts";
import { AnsiText } from "./ansi-text.tsx";
import { clock, STATUS_LABEL } from "./format.tsx";
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
    case "setup":
      return <SetupStep item={item} />;
    case "setup-done":
      return <SetupDone item={item} />;
    case "egress":
      return <EgressAttempt item={item} taskID={taskID} />;
    case "egress-allow":
      return (
        <p class="status-line egress-decision">
          Allowed <code>{item.host}</code> for this task ({item.by})
        </p>
      );
  }
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
        {item.output.length > 0 && (
          <pre class="terminal" aria-label="Setup output">
            {item.droppedChars > 0 && <span class="cut">… {item.droppedChars} earlier characters not shown{"\n"}</span>}
            {item.output.map((o, i) => (
              <span key={i} class={o.stream}>
                <AnsiText text={o.text} />
              </span>
            ))}
          </pre>
        )}
      </div>
    </details>
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
