/** Polling that stops while the page is hidden, for screens that list what changes on the edge. */
import { useEffect } from "preact/hooks";

/** Calls `refresh` every `ms` while the page is visible, and at once when it becomes visible again. */
export function usePoll(refresh: () => Promise<void>, ms: number): void {
  useEffect(() => {
    const tick = () => {
      if (document.visibilityState === "visible") void refresh();
    };
    const timer = setInterval(tick, ms);
    document.addEventListener("visibilitychange", tick);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", tick);
    };
  }, [refresh, ms]);
}
