/**
 * A screen loaded on first use (`import()` makes its own chunk, so it stays out of the first
 * load): it shows "Loading…" until the chunk arrives, and a way to try again if it cannot
 * be fetched. Screens that are not on the way to the task list (new task with its full form
 * checks, the diff, settings, adding a runner) are loaded this way; see `app.tsx`.
 */
import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";

export function lazyScreen<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let pending: Promise<ComponentType<P>> | null = null;
  const fetchScreen = () => {
    pending ??= load().then(
      (screen) => (loaded = screen),
      (err: unknown) => {
        pending = null;
        throw err;
      },
    );
    return pending;
  };
  return function LazyScreen(props: P) {
    const [, setReady] = useState(0);
    const [failed, setFailed] = useState(false);
    const [attempt, setAttempt] = useState(0);
    useEffect(() => {
      if (loaded) return;
      let live = true;
      fetchScreen().then(
        () => live && setReady((n) => n + 1),
        () => live && setFailed(true),
      );
      return () => {
        live = false;
      };
    }, [attempt]);
    if (loaded) {
      const Screen = loaded;
      return <Screen {...props} />;
    }
    if (failed) {
      return (
        <p class="banner error" role="alert">
          This part of the app could not be loaded.{" "}
          <button
            type="button"
            class="link"
            onClick={() => {
              setFailed(false);
              setAttempt((n) => n + 1);
            }}
          >
            Try again
          </button>
        </p>
      );
    }
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  };
}
