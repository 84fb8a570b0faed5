/**
 * Keeps a task's activity feed live: one TaskStream per open task, folded into a Feed.
 * The browser's `offline` event shows at once as offline (a socket can look open for a
 * while after the network went); coming back online or to the foreground reconnects at
 * once instead of after the backoff. A socket silent for two ping periods is dropped.
 */
import { useEffect, useState } from "preact/hooks";
import { applyEvents, EMPTY_FEED, type ConnectionState, type Feed, type TetherClient, type TetherError } from "../../shared/client/light.ts";

/** Pings go out this often; a silent socket is dropped after two periods. */
const PING_MS = 10_000;

export interface LiveTask {
  feed: Feed;
  state: ConnectionState;
  error: TetherError | null;
}

export function useTaskStream(client: TetherClient, taskID: string): LiveTask {
  const [live, setLive] = useState<LiveTask>({ feed: EMPTY_FEED, state: "connecting", error: null });
  const [online, setOnline] = useState(() => navigator.onLine);
  useEffect(() => {
    setLive({ feed: EMPTY_FEED, state: "connecting", error: null });
    const stream = client.streamTask(taskID, { pingIntervalMs: PING_MS });
    const offEvents = stream.on("events", (events) => setLive((l) => ({ ...l, feed: applyEvents(l.feed, events) })));
    const offState = stream.on("state", (state) => setLive((l) => ({ ...l, state, error: stream.error })));
    const wake = () => {
      if (document.visibilityState === "visible") stream.reconnectNow();
    };
    const goOnline = () => {
      setOnline(true);
      wake();
    };
    const goOffline = () => setOnline(false);
    window.addEventListener("online", goOnline);
    window.addEventListener("offline", goOffline);
    document.addEventListener("visibilitychange", wake);
    stream.start();
    return () => {
      offEvents();
      offState();
      window.removeEventListener("online", goOnline);
      window.removeEventListener("offline", goOffline);
      document.removeEventListener("visibilitychange", wake);
      stream.close();
    };
  }, [client, taskID]);
  return !online && live.state !== "closed" ? { ...live, state: "offline" } : live;
}
