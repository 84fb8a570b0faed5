/** The app: signed out, the sign-in screen; signed in, the screens by path. */
import { useMemo, useState } from "preact/hooks";
import { TetherClient } from "../../shared/client/index.ts";
import { AddRunner } from "./add-runner.tsx";
import { EnvironmentEditor, Environments } from "./environments.tsx";
import { NewTask } from "./new-task.tsx";
import { Link, usePath } from "./router.tsx";
import { clearToken, loadToken, saveToken, SessionContext, takeTokenFromURL, tokenSubject, type Session } from "./session.tsx";
import { Runners } from "./runners.tsx";
import { Settings } from "./settings.tsx";
import { SignIn } from "./sign-in.tsx";
import { TaskList } from "./task-list.tsx";
import { TaskView } from "./task-view.tsx";

export function App() {
  const [token, setToken] = useState<string | null>(() => takeTokenFromURL() ?? loadToken());
  const [notice, setNotice] = useState<string | null>(null);
  const session = useMemo<Session | null>(() => {
    if (!token) return null;
    const client = new TetherClient({ baseURL: location.origin, token });
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
