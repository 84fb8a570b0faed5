/**
 * One task: a sticky bar (status, cost, connection), its summary (title, repo, branch, usage,
 * a reached budget to raise (budget-card.tsx), the questions it waits on (approval-card.tsx), finish and cancel while it runs), the live activity or the diff, its artifacts, and a
 * one-line follow-up box that grows while the reader writes.
 */
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { LIMITS } from "../../shared/limits.ts";
import type { Task } from "../../shared/task.ts";
import { isTerminal } from "../../shared/task-helpers.ts";
import { ActivityFeed } from "./activity-feed.tsx";
import { ApprovalCard, type ApprovalItem } from "./approval-card.tsx";
import { ConnectionBadge } from "./connection-badge.tsx";
import { lazyScreen } from "./lazy-screen.tsx";
import { ErrorLine } from "./form-field.tsx";
import { formatCost, formatTokens, repoName } from "./format.tsx";
import { BackLink, Link } from "./router.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";
import { StatusPill } from "./status-pill.tsx";
import { useTaskStream } from "./use-task-stream.tsx";

// Shown only while a task is paused at a reached budget; its form checks carry the schemas.
const BudgetCard = lazyScreen(() => import("./budget-card.tsx").then((m) => m.BudgetCard));
const DiffView = lazyScreen(() => import("./diff-view.tsx").then((m) => m.DiffView));

export function TaskView({ taskID, tab }: { taskID: string; tab: "activity" | "diff" }) {
  const { client } = useSession();
  const [task, setTask] = useState<Task | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const live = useTaskStream(client, taskID);
  const { feed } = live;

  useEffect(() => {
    let stale = false;
    client.getTask(taskID).then(
      (t) => !stale && (setTask(t), setLoadError(null)),
      (err: unknown) => !stale && setLoadError(messageOf(err)),
    );
    return () => {
      stale = true;
    };
  }, [client, taskID, feed.status, feed.diff, feed.usage.modelCalls]);

  useStickToBottom(tab === "activity" ? feed.items : null);

  const status = feed.status ?? task?.status ?? null;
  const finished = status !== null && isTerminal(status);
  const usage = feed.usage.modelCalls > 0 ? feed.usage : task?.usage;
  const egress = feed.egress.allowed + feed.egress.denied > 0 ? feed.egress : task?.egress;
  const files = feed.diff?.files ?? task?.diff?.files ?? 0;
  // An empty diff is no change: nothing to show or download.
  const artifact = files > 0 ? (feed.diff?.artifact ?? "diff.patch") : null;
  const branch = feed.diff?.branch ?? task?.branch ?? null;
  const pushed = feed.diff?.pushed;
  // The end is said once: the bar's pill and the summary's reason (a cancel names who asked in
  // the feed), not again as a feed line; an empty diff is no news.
  const items = feed.items.filter((i) => !(i.kind === "status" && isTerminal(i.status)) && !(i.kind === "diff" && i.diff.files === 0));
  const cancelAsked = feed.items.some((i) => i.kind === "cancel");
  const pending = finished ? [] : feed.items.filter((i): i is ApprovalItem => i.kind === "approval" && i.state === "pending");
  const base = `/tasks/${encodeURIComponent(taskID)}`;

  return (
    <main id="main" class="page task-page">
      <div class="task-bar">
        <BackLink href="/" screen="Tasks" />
        {status && <StatusPill status={status} />}
        {usage && <span class="bar-cost" aria-label="Cost">{formatCost(usage.costUSD)}</span>}
        <span class="spacer" />
        <ConnectionBadge state={live.state} error={live.error} finished={finished} />
      </div>
      <header class="task-head">
        <h1 class="task-heading">{task?.title ?? (loadError ? "Task" : "Loading…")}</h1>
        <div class="row wrap meta">
          {task && (
            <span class="repo">
              {repoName(task.repo.url)}
              {task.repo.ref && `@${task.repo.ref}`}
            </span>
          )}
          {branch && (
            <span class="repo">
              → {branch}
              {pushed === false && <span class="not-pushed"> (not pushed)</span>}
            </span>
          )}
        </div>
        {feed.budget && status === "waiting" ? (
          <BudgetCard key={feed.budget.seq} taskID={taskID} reached={feed.budget.reached} />
        ) : (
          task?.statusReason && !(status === "cancelled" && cancelAsked) && <p class="reason">{task.statusReason}</p>
        )}
        {usage && (
          <dl class="usage" aria-label="Usage">
            <div>
              <dt>Cost</dt>
              <dd>{formatCost(usage.costUSD)}</dd>
            </div>
            <div>
              <dt>Tokens in / out</dt>
              <dd>
                {formatTokens(usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens)} / {formatTokens(usage.outputTokens)}
              </dd>
            </div>
            <div>
              <dt>Model calls</dt>
              <dd>{usage.modelCalls}</dd>
            </div>
            {egress && egress.allowed + egress.denied > 0 && (
              <div>
                <dt>Network</dt>
                <dd class={egress.denied > 0 ? "egress-totals denied" : "egress-totals"}>
                  {egress.allowed} allowed / {egress.denied} blocked
                </dd>
              </div>
            )}
          </dl>
        )}
        {!finished && status !== null && (
          <div class="task-actions row wrap">
            {(status === "running" || status === "waiting") && <FinishTask taskID={taskID} status={status} />}
            <CancelTask taskID={taskID} />
          </div>
        )}
        <nav class="tabs" aria-label="Task views">
          <Link href={base} aria-current={tab === "activity" ? "page" : undefined}>
            Activity
          </Link>
          <Link href={`${base}/diff`} aria-current={tab === "diff" ? "page" : undefined}>
            Changes{files > 0 ? ` (${files})` : ""}
          </Link>
        </nav>
      </header>
      {pending.map((item) => (
        <ApprovalCard key={item.key} taskID={taskID} item={item} />
      ))}
      {loadError && (
        <p class="banner error" role="alert">
          {loadError}
        </p>
      )}
      {live.error && (
        <p class="banner error" role="alert">
          Live updates stopped: {live.error.message}
        </p>
      )}
      {tab === "activity" ? (
        <ActivityFeed items={items} taskID={taskID} />
      ) : artifact ? (
        <DiffView taskID={taskID} artifact={artifact} version={feed.diff ? feed.lastSeq : 0} />
      ) : (
        <p class="muted center">{finished ? "The task changed no file." : "No changes yet. The diff appears when the task is finished."}</p>
      )}
      {artifact && <Artifacts taskID={taskID} names={[artifact]} />}
      {!finished && status !== null && <FollowUp taskID={taskID} status={status} />}
    </main>
  );
}

function FollowUp({ taskID, status }: { taskID: string; status: string }) {
  const { client } = useSession();
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [focused, setFocused] = useState(false);
  // One line until the reader writes: the feed keeps the screen.
  const open = focused || text !== "";

  async function send(event: Event) {
    event.preventDefault();
    // The edge checks the message against MessageRequest; this says why before a round trip.
    const message = text.trim();
    if (!message || message.length > LIMITS.maxMessageChars) {
      setError(message ? "That message is too long." : "Write a message first.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await client.sendMessage(taskID, message);
      setText("");
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class={`composer${open ? " open" : ""}`} onSubmit={send} aria-label="Follow-up">
      <ErrorLine error={error} />
      <label for="follow-up" class="sr-only">
        Follow-up message
      </label>
      <div class="row">
        <textarea
          id="follow-up"
          rows={open ? 3 : 1}
          placeholder={status === "waiting" ? "Reply to the agent…" : "Message the agent…"}
          value={text}
          onFocus={() => setFocused(true)}
          onBlur={() => setFocused(false)}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.metaKey || e.ctrlKey)) e.currentTarget.form?.requestSubmit();
          }}
        />
        <button type="submit" class="button primary" disabled={busy}>
          Send
        </button>
      </div>
    </form>
  );
}

/** Finish wraps the task up (commit, diff, push) once the agent's current turn ends. */
function FinishTask({ taskID, status }: { taskID: string; status: string }) {
  const { client } = useSession();
  const [asked, setAsked] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function finish() {
    setAsked(true);
    setError(null);
    try {
      await client.finishTask(taskID);
    } catch (err) {
      setAsked(false);
      setError(messageOf(err));
    }
  }

  return (
    <>
      <button type="button" class="button ghost" disabled={asked} onClick={() => void finish()}>
        {asked ? "Finishing…" : status === "waiting" ? "Finish: make the diff" : "Finish after this turn"}
      </button>
      <ErrorLine error={error} />
    </>
  );
}

/** Cancel asks once more before it stops the task; the edge then stops the container. */
function CancelTask({ taskID }: { taskID: string }) {
  const { client } = useSession();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function cancel() {
    setBusy(true);
    setError(null);
    try {
      await client.cancelTask(taskID);
      setConfirming(false);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  if (!confirming) {
    return (
      <button type="button" class="button ghost danger-text" onClick={() => setConfirming(true)}>
        Cancel task
      </button>
    );
  }
  return (
    <div class="confirm" role="group" aria-label="Confirm cancel">
      <span>Stop this task? The diff so far is kept.</span>
      <div class="row end">
        <button type="button" class="button ghost" onClick={() => setConfirming(false)}>
          Keep running
        </button>
        <button type="button" class="button danger" disabled={busy} onClick={() => void cancel()}>
          Yes, cancel
        </button>
      </div>
      <ErrorLine error={error} />
    </div>
  );
}

function Artifacts({ taskID, names }: { taskID: string; names: string[] }) {
  const { client } = useSession();
  const [error, setError] = useState<string | null>(null);
  async function download(name: string) {
    try {
      // The artifact route needs the bearer header, so fetch it and hand the browser a blob.
      const text = await client.getArtifact(taskID, name);
      const url = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `${taskID}-${name}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(messageOf(err));
    }
  }
  return (
    <section class="artifacts" aria-labelledby="artifacts-title">
      <h2 id="artifacts-title">Artifacts</h2>
      <ul>
        {names.map((name) => (
          <li key={name}>
            <button type="button" class="link" onClick={() => void download(name)}>
              Download {name}
            </button>
          </li>
        ))}
      </ul>
      {error && <p class="field-error">{error}</p>}
    </section>
  );
}

/**
 * Keeps the page scrolled to the newest item once the reader has scrolled to the bottom; a
 * task opens at its summary.
 */
function useStickToBottom(items: unknown): void {
  const atBottom = useRef(false);
  useEffect(() => {
    const onScroll = () => {
      atBottom.current = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 120;
    };
    window.addEventListener("scroll", onScroll, { passive: true });
    return () => window.removeEventListener("scroll", onScroll);
  }, []);
  useLayoutEffect(() => {
    if (items && atBottom.current) window.scrollTo(0, document.documentElement.scrollHeight);
  }, [items]);
}
