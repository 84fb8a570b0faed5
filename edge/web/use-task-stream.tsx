/**
 * Keeps a task's activity feed live: one TaskStream per open task, folded into a Feed.
 * Coming back online or to the foreground reconnects at once instead of after the backoff.
 */
import { useEffect, useState } from "preact/hooks";
import { applyEvents, EMPTY_FEED, type ConnectionState, type Feed, type TetherClient, type TetherError } from "../../shared/client/index.ts";

export interface LiveTask {
  feed: Feed;
  state: ConnectionState;
  error: TetherError | null;
}

export function useTaskStream(client: TetherClient, taskID: string): LiveTask {
  const [live, setLive] = useState<LiveTask>({ feed: EMPTY_FEED, state: "connecting", error: null });
  useEffect(() => {
    setLive({ feed: EMPTY_FEED, state: "connecting", error: null });
    const stream = client.streamTask(taskID);
    const offEvents = stream.on("events", (events) => setLive((l) => ({ ...l, feed: applyEvents(l.feed, events) })));
    const offState = stream.on("state", (state) => setLive((l) => ({ ...l, state, error: stream.error })));
    const wake = () => {
      if (document.visibilityState === "visible") stream.reconnectNow();
    };
    window.addEventListener("online", wake);
    document.addEventListener("visibilitychange", wake);
    stream.start();
    return () => {
      offEvents();
      offState();
      window.removeEventListener("online", wake);
      document.removeEventListener("visibilitychange", wake);
      stream.close();
    };
  }, [client, taskID]);
  return live;
}
