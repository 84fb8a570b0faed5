/** The task list: newest first, searched and filtered, refreshed while the page is visible. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { TetherError, type TaskPage, type TetherClient } from "../../shared/client/light.ts";
import type { Task, TaskStatus } from "../../shared/task.ts";
import { isTerminal, TASK_STATUSES, titleFromPrompt } from "../../shared/task-helpers.ts";
import { formatCost, repoName, STATUS_LABEL, timeAgo } from "./format.tsx";
import { NotifyToggle } from "./notifications.tsx";
import { Link } from "./router.tsx";
import { useRunners } from "./runners.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";
import { StatusPill } from "./status-pill.tsx";
import { usePoll } from "./use-poll.tsx";

const POLL_MS = 4000;
const PAGE = 30;

/** The first page, asked for while the app renders for the first time (see `prefetchTasks`). */
let early: { client: TetherClient; page: Promise<TaskPage> } | null = null;

/** Asks for the list's first page now, so that the request overlaps the app's first render. */
export function prefetchTasks(client: TetherClient): void {
  early = { client, page: client.listTasks({ limit: PAGE }) };
  early.page.catch(() => undefined);
}

/** The prefetched first page when it is the one asked for, once. */
function takeEarly(client: TetherClient, q: string, status: string): Promise<TaskPage> | null {
  const taken = early;
  early = null;
  return taken && taken.client === client && q === "" && status === "" ? taken.page : null;
}

export function TaskList() {
  const { client, signOut } = useSession();
  const [q, setQ] = useState("");
  const [status, setStatus] = useState<TaskStatus | "">("");
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [extra, setExtra] = useState<Task[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const request = useRef(0);

  const refresh = useCallback(async () => {
    const id = ++request.current;
    try {
      const page = await (takeEarly(client, q.trim(), status) ?? client.listTasks({ q: q.trim() || undefined, status: status || undefined, limit: PAGE }));
      if (id !== request.current) return;
      setTasks(page.tasks);
      setCursor((c) => (extra.length ? c : page.nextCursor));
      setError(null);
      setNow(Date.now());
    } catch (err) {
      if (err instanceof TetherError && err.status === 401) signOut("The edge refused your token. Sign in again.");
      else if (id === request.current) setError(messageOf(err));
    }
  }, [client, q, status, extra.length]);

  useEffect(() => {
    setExtra([]);
    const t = setTimeout(() => void refresh(), q ? 250 : 0);
    return () => clearTimeout(t);
  }, [q, status]);

  usePoll(refresh, POLL_MS);

  async function loadMore() {
    if (!cursor) return;
    try {
      const page = await client.listTasks({ q: q.trim() || undefined, status: status || undefined, limit: PAGE, cursor });
      setExtra((e) => [...e, ...page.tasks]);
      setCursor(page.nextCursor);
    } catch (err) {
      setError(messageOf(err));
    }
  }

  const shown = tasks ? dedupe([...tasks, ...extra]) : null;
  const filtered = q.trim() !== "" || status !== "";

  return (
    <main id="main" class="page">
      <header class="top">
        <h1>Tasks</h1>
        <div class="row">
          <Link href="/settings" class="button ghost icon-button" aria-label="Settings">
            <span aria-hidden="true">⚙</span>
          </Link>
          <Link href="/runners" class="button ghost">
            Runners
          </Link>
          <Link href="/new" class="button primary">
            New task
          </Link>
        </div>
      </header>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label class="sr-only" for="search">
          Search tasks
        </label>
        <input id="search" type="search" placeholder="Search tasks" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        <label class="sr-only" for="status-filter">
          Status
        </label>
        <select id="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value as TaskStatus | "")}>
          <option value="">All statuses</option>
          {TASK_STATUSES.map((s) => (
            <option value={s} key={s}>
              {STATUS_LABEL[s]}
            </option>
          ))}
        </select>
      </form>
      {error && (
        <p class="banner error" role="alert">
          {error}
        </p>
      )}
      {shown === null && !error && <p class="muted center">Loading…</p>}
      {shown && shown.length === 0 && (
        <div class="empty">
          {filtered ? (
            <p>No task matches.</p>
          ) : (
            <>
              <p>No tasks yet.</p>
              <RunnerNote />
              <Link href="/new" class="button primary">
                Start your first task
              </Link>
            </>
          )}
        </div>
      )}
      {shown && shown.length > 0 && (
        <ul class="task-list" aria-label="Tasks">
          {shown.map((task) => (
            <li key={task.id}>
              <Link href={`/tasks/${encodeURIComponent(task.id)}`} class="task-card" data-task-id={task.id}>
                <span class="task-title">{task.title || titleFromPrompt(task.prompt)}</span>
                <StatusPill status={task.status} />
                <span class="task-meta">
                  {task.pendingApproval && !isTerminal(task.status) && <span class="needs-you">Needs you</span>}
                  <span>{repoName(task.repo.url)}</span>
                  {task.repo.ref && <span>@{task.repo.ref}</span>}
                  <span aria-label="created">{timeAgo(task.createdAt, now)}</span>
                  {task.usage.costUSD !== 0 && <span>{task.usage.costUSD === null ? "cost unknown" : formatCost(task.usage.costUSD)}</span>}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
      {cursor && (
        <button type="button" class="button ghost wide" onClick={() => void loadMore()}>
          Load more
        </button>
      )}
      <NotifyToggle />
    </main>
  );
}

/** Whether a runner is there to take a first task. */
function RunnerNote() {
  const { runners } = useRunners();
  if (runners === null) return null;
  const online = runners.filter((r) => r.online && !r.draining).length;
  if (online > 0) {
    return (
      <p class="runner-note">
        {online} runner{online === 1 ? " is" : "s are"} online and ready.
      </p>
    );
  }
  return (
    <p class="runner-note">
      No runner is online, so a task waits in the queue.{" "}
      <Link href={runners.length === 0 ? "/runners/new" : "/runners"} class="inline-target">
        {runners.length === 0 ? "Add a runner" : "See your runners"}
      </Link>
    </p>
  );
}

function dedupe(tasks: Task[]): Task[] {
  const seen = new Set<string>();
  return tasks.filter((t) => !seen.has(t.id) && seen.add(t.id));
}
