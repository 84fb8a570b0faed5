/**
 * The task stream's connection as the user should read it. It says "Live" only when the
 * stream is: the socket is open, the edge has replayed everything missed, frames keep coming
 * (the stream's watchdog drops a silent socket) and the browser is online. A finished task
 * says "Finished": nothing more is coming, live or not.
 */
import type { ConnectionState, TetherError } from "../../shared/client/light.ts";

const LABEL: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline, retrying",
  closed: "Not connected",
};

export function ConnectionBadge({ state, error, finished }: { state: ConnectionState; error: TetherError | null; finished: boolean }) {
  const shown = finished && !error ? "finished" : state;
  const label = shown === "finished" ? "Finished" : LABEL[state];
  return (
    <span class={`conn conn-${shown}`} role="status" aria-live="polite" data-state={shown} title={error?.message}>
      <span class="conn-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
