/**
 * The runners screen: each registered runner (online, labels, slots in use, version, last
 * seen), drain or resume it, delete it after a confirmation, and a link to add one.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import type { RunnerInfo } from "../../shared/api.ts";
import { ErrorLine } from "./form-field.tsx";
import { timeAgo } from "./format.tsx";
import { BackLink, Link } from "./router.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";
import { usePoll } from "./use-poll.tsx";

const POLL_MS = 5000;

/** The account's runners, refreshed while the page is visible; `null` until the first answer. */
export function useRunners(): { runners: RunnerInfo[] | null; error: string | null; refresh: () => Promise<void> } {
  const { client } = useSession();
  const [runners, setRunners] = useState<RunnerInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = useCallback(async () => {
    try {
      setRunners(await client.listRunners());
      setError(null);
    } catch (err) {
      setError(messageOf(err));
    }
  }, [client]);
  useEffect(() => void refresh(), [refresh]);
  usePoll(refresh, POLL_MS);
  return { runners, error, refresh };
}

export function Runners() {
  const { runners, error, refresh } = useRunners();
  const now = Date.now();
  return (
    <main id="main" class="page">
      <header class="page-head">
        <BackLink href="/" screen="Tasks" />
        <div class="row between">
          <h1>Runners</h1>
          <Link href="/runners/new" class="button primary">
            Add a runner
          </Link>
        </div>
      </header>
      {error && (
        <p class="banner error" role="alert">
          {error}
        </p>
      )}
      {runners === null && !error && <p class="muted center">Loading…</p>}
      {runners && runners.length === 0 && (
        <div class="empty">
          <p>No runner yet. A runner is one container on a Docker host you own; it runs the tasks.</p>
          <Link href="/runners/new" class="button primary">
            Add your first runner
          </Link>
        </div>
      )}
      {runners && runners.length > 0 && (
        <ul class="runner-list" aria-label="Runners">
          {runners.map((r) => (
            <li key={r.id}>
              <RunnerCard runner={r} now={now} onChanged={refresh} />
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}

function RunnerCard({ runner, now, onChanged }: { runner: RunnerInfo; now: number; onChanged: () => Promise<void> }) {
  const { client } = useSession();
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function act(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await action();
      await onChanged();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  const state = runner.draining ? "draining" : runner.online ? "online" : "offline";
  return (
    <article class="card runner-card" aria-labelledby={`runner-${runner.id}`} data-runner-id={runner.id}>
      <div class="row between">
        <h2 id={`runner-${runner.id}`} class="runner-name">
          {runner.name}
        </h2>
        <span class={`pill pill-runner-${state}`}>{runner.draining ? (runner.online ? "Draining" : "Draining, offline") : runner.online ? "Online" : "Offline"}</span>
      </div>
      <dl class="runner-facts">
        <div>
          <dt>Tasks</dt>
          <dd>
            {runner.runningTasks.length} of {runner.capacity} slots busy
          </dd>
        </div>
        <div>
          <dt>Labels</dt>
          <dd>{runner.labels.length ? runner.labels.join(", ") : "none"}</dd>
        </div>
        <div>
          <dt>Version</dt>
          <dd>{runner.version ?? "not connected yet"}</dd>
        </div>
        <div>
          <dt>Last seen</dt>
          <dd>{runner.lastSeenAt ? timeAgo(runner.lastSeenAt, now) : "never"}</dd>
        </div>
      </dl>
      {runner.draining && <p class="hint">It finishes what it holds and takes no new task.</p>}
      {runner.drainingReason && <p class="hint">It takes no new task: {runner.drainingReason}.</p>}
      {confirming ? (
        <div class="confirm" role="group" aria-label={`Confirm deleting ${runner.name}`}>
          <span>
            Delete {runner.name}? Its credential stops working at once
            {runner.runningTasks.length > 0 ? ` and its ${runner.runningTasks.length} running task${runner.runningTasks.length === 1 ? " is" : "s are"} lost` : ""}.
          </span>
          <div class="row end">
            <button type="button" class="button ghost" onClick={() => setConfirming(false)}>
              Keep it
            </button>
            <button type="button" class="button danger" disabled={busy} onClick={() => void act(() => client.revokeRunner(runner.id))}>
              Yes, delete
            </button>
          </div>
        </div>
      ) : (
        <div class="row end wrap">
          <button type="button" class="button ghost" disabled={busy} onClick={() => void act(() => client.drainRunner(runner.id, !runner.draining))}>
            {runner.draining ? "Resume" : "Drain"}
          </button>
          <button type="button" class="button ghost danger-text" onClick={() => setConfirming(true)}>
            Delete
          </button>
        </div>
      )}
      <ErrorLine error={error} />
    </article>
  );
}
