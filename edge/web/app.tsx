/** The app: signed out, the sign-in screen; signed in, the screens by path. */
import { useMemo, useState } from "preact/hooks";
import { TetherClient } from "../../shared/client/light.ts";
import { lazyScreen } from "./lazy-screen.tsx";
import { Link, usePath } from "./router.tsx";
import { clearToken, loadToken, saveToken, SessionContext, takeTokenFromURL, tokenSubject, type Session } from "./session.tsx";
import { Runners } from "./runners.tsx";
import { SignIn } from "./sign-in.tsx";
import { prefetchTasks, TaskList } from "./task-list.tsx";
import { TaskView } from "./task-view.tsx";

// Off the way to the task list: each loads on first use (see lazy-screen.tsx).
const NewTask = lazyScreen(() => import("./new-task.tsx").then((m) => m.NewTask));
const AddRunner = lazyScreen(() => import("./add-runner.tsx").then((m) => m.AddRunner));
const Settings = lazyScreen(() => import("./settings.tsx").then((m) => m.Settings));
const Environments = lazyScreen(() => import("./environments.tsx").then((m) => m.Environments));
const EnvironmentEditor = lazyScreen(() => import("./environments.tsx").then((m) => m.EnvironmentEditor));

export function App() {
  const [token, setToken] = useState<string | null>(() => takeTokenFromURL() ?? loadToken());
  const [notice, setNotice] = useState<string | null>(null);
  const session = useMemo<Session | null>(() => {
    if (!token) return null;
    const client = new TetherClient({ baseURL: location.origin, token });
    if (location.pathname === "/") prefetchTasks(client);
    return {
      client,
      token,
      user: tokenSubject(token),
      signOut: (reason?: string) => {
        clearToken();
        setNotice(reason ?? null);
        setToken(null);
      },
    };
  }, [token]);

  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(t) => {
          saveToken(t);
          setNotice(null);
          setToken(t);
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <Screens />
    </SessionContext.Provider>
  );
}

function Screens() {
  const path = usePath();
  if (path === "/" || path === "") return <TaskList />;
  if (path === "/new") return <NewTask />;
  if (path === "/runners") return <Runners />;
  if (path === "/runners/new") return <AddRunner />;
  if (path === "/settings") return <Settings />;
  if (path === "/environments") return <Environments />;
  const env = /^\/environments\/([^/]+)\/?$/.exec(path);
  if (env) return env[1] === "new" ? <EnvironmentEditor key="new" /> : <EnvironmentEditor key={env[1]} id={decodeURIComponent(env[1]!)} />;
  const task = /^\/tasks\/([^/]+)(\/diff)?\/?$/.exec(path);
  if (task) {
    const id = decodeURIComponent(task[1]!);
    return <TaskView key={id} taskID={id} tab={task[2] ? "diff" : "activity"} />;
  }
  return (
    <main id="main" class="page">
      <h1>Not found</h1>
      <p>
        Nothing lives at this address. <Link href="/">See your tasks</Link>.
      </p>
    </main>
  );
}
