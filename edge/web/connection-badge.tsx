/**
 * The task stream's connection as the user should read it. It says "Live" only when the
 * stream is: the socket is open and the edge has replayed everything missed.
 */
import type { ConnectionState, TetherError } from "../../shared/client/index.ts";

const LABEL: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline, retrying",
  closed: "Not connected",
};

export function ConnectionBadge({ state, error, finished }: { state: ConnectionState; error: TetherError | null; finished: boolean }) {
  const label = state === "closed" && !error && finished ? "Finished" : LABEL[state];
  return (
    <span class={`conn conn-${state}`} role="status" aria-live="polite" data-state={state} title={error?.message}>
      <span class="conn-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
