/**
 * Saved environments on the phone: the list (`/environments`), and one environment's form
 * (`/environments/new`, `/environments/:id`) to create, edit or delete it. The form holds the
 * name, the repository match, the image, the setup script, the hosts each phase may reach
 * (one per line) and the non-secret variables (`NAME=value`, one per line). It checks the
 * body with the schema the edge uses (EnvironmentRequest) and shows each message under its
 * field; the edge's refusal shows above the form. The new-task form picks one by name.
 */
import { useEffect, useState } from "preact/hooks";
import type { z } from "zod";
import { type Environment, EnvironmentRequest } from "../../shared/environment.ts";
import { formFields } from "./form-field.tsx";
import { BackLink, Link, navigate } from "./router.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";

type Fields = { name: string; repository: string; image: string; setup: string; setupHosts: string; agentHosts: string; variables: string };
type FieldName = keyof Fields;
type Errors = Partial<Record<FieldName, string>>;

const EMPTY: Fields = { name: "", repository: "", image: "", setup: "", setupHosts: "", agentHosts: "", variables: "" };

function fieldsOf(env: Environment): Fields {
  return {
    name: env.name,
    repository: env.repository,
    image: env.image ?? "",
    setup: env.setup ?? "",
    setupHosts: env.network.setup.join("\n"),
    agentHosts: env.network.agent.join("\n"),
    variables: Object.entries(env.variables)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n"),
  };
}

const linesOf = (text: string) =>
  text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter(Boolean);

/** The request body the form describes, or the errors of what cannot become one (a variable line without `=`). */
export function bodyOf(f: Fields): { body: Record<string, unknown>; errors: Errors } {
  const variables: Record<string, string> = {};
  const errors: Errors = {};
  for (const line of f.variables.split("\n").filter((l) => l.trim() !== "")) {
    const eq = line.indexOf("=");
    if (eq <= 0) errors.variables ??= `Write each variable as NAME=value ("${line.trim().slice(0, 40)}" is not).`;
    else variables[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  const body = {
    name: f.name,
    repository: f.repository,
    ...(f.image.trim() ? { image: f.image.trim() } : {}),
    ...(f.setup.trim() ? { setup: f.setup } : {}),
    network: { setup: linesOf(f.setupHosts), agent: linesOf(f.agentHosts) },
    variables,
  };
  return { body, errors };
}

/** The form's field for an issue, and what to say there. */
function placeOf(issue: z.core.$ZodIssue, body: Record<string, unknown>): [FieldName, string] | null {
  const [a, b, c] = issue.path;
  const say = (message: string) => message.charAt(0).toUpperCase() + message.slice(1);
  if (a === "name") return ["name", issue.code === "too_small" ? "Give the environment a name." : say(issue.message)];
  if (a === "repository") return ["repository", issue.code === "too_small" ? "Give a repository URL prefix, or a pattern with *." : say(issue.message)];
  if (a === "image") return ["image", issue.code === "invalid_format" ? "Write an image reference such as node:22 or registry.example:5000/team/node:22." : say(issue.message)];
  if (a === "setup") return ["setup", say(issue.message)];
  if (a === "network" && (b === "setup" || b === "agent")) {
    const hosts = (body.network as Record<string, string[]>)[b] ?? [];
    const field = b === "setup" ? "setupHosts" : "agentHosts";
    if (typeof c === "number") return [field, `"${hosts[c]}" is not a host, *.domain or host:port.`];
    return [field, say(issue.message)];
  }
  if (a === "variables") {
    const nested = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
    return ["variables", typeof b === "string" ? `${b}: ${nested ?? issue.message}.` : say(issue.message)];
  }
  return null;
}

export function Environments() {
  const { client } = useSession();
  const [environments, setEnvironments] = useState<Environment[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stale = false;
    client.listEnvironments().then(
      (list) => !stale && setEnvironments(list),
      (err) => !stale && setError(messageOf(err)),
    );
    return () => {
      stale = true;
    };
  }, [client]);
  return (
    <main id="main" class="page">
      <header class="page-head">
        <BackLink href="/settings" screen="Settings" />
        <div class="row between">
          <h1>Environments</h1>
          <Link href="/environments/new" class="button primary">
            New
          </Link>
        </div>
      </header>
      <p class="hint runner-note">A task gets the environment it names, else the one whose repository pattern matches its repository: its setup script, the hosts it may reach, its variables and its image.</p>
      {error && (
        <p class="banner error" role="alert">
          {error}
        </p>
      )}
      {environments === null && !error && <p class="muted center">Loading…</p>}
      {environments && environments.length === 0 && (
        <div class="empty">
          <p>No environment yet. Without one, a task runs the repository's .tether/setup.sh, if it has one, in the runner's worker image.</p>
          <Link href="/environments/new" class="button primary">
            Save your first environment
          </Link>
        </div>
      )}
      {environments && environments.length > 0 && (
        <ul class="runner-list" aria-label="Environments">
          {environments.map((env) => (
            <li key={env.id}>
              <Link href={`/environments/${encodeURIComponent(env.id)}`} class="card runner-card env-card" data-environment-id={env.id}>
                <h2 class="runner-name">{env.name}</h2>
                <span class="repo">{env.repository}</span>
                <dl class="runner-facts">
                  <div>
                    <dt>Setup</dt>
                    <dd>{env.setup ? env.setup.trim().split("\n")[0] : "none"}</dd>
                  </div>
                  <div>
                    <dt>Image</dt>
                    <dd>{env.image ?? "the runner's"}</dd>
                  </div>
                  <div>
                    <dt>Hosts</dt>
                    <dd>
                      {env.network.setup.length} setup · {env.network.agent.length} agent
                    </dd>
                  </div>
                  <div>
                    <dt>Variables</dt>
                    <dd>{Object.keys(env.variables).length}</dd>
                  </div>
                </dl>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}

/** Creates an environment (no `id`) or edits and deletes the one with `id`. */
export function EnvironmentEditor({ id }: { id?: string }) {
  const { client } = useSession();
  const [fields, setFields] = useState<Fields>(EMPTY);
  const [loaded, setLoaded] = useState(id === undefined);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);

  useEffect(() => {
    if (id === undefined) return;
    let stale = false;
    client.listEnvironments().then(
      (list) => {
        if (stale) return;
        const env = list.find((e) => e.id === id);
        if (env) setFields(fieldsOf(env));
        else setFormError("There is no such environment: it may have been deleted.");
        setLoaded(true);
      },
      (err) => !stale && setFormError(messageOf(err)),
    );
    return () => {
      stale = true;
    };
  }, [client, id]);

  const set = (name: FieldName) => (e: { currentTarget: { value: string } }) => setFields((f) => ({ ...f, [name]: e.currentTarget.value }));

  async function save(event: Event) {
    event.preventDefault();
    setFormError(null);
    const { body, errors: found } = bodyOf(fields);
    const parsed = EnvironmentRequest.safeParse(body);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const place = placeOf(issue, body);
        if (place && !found[place[0]]) found[place[0]] = place[1];
        else if (!place) setFormError(issue.message);
      }
    }
    setErrors(found);
    const first = (Object.keys(EMPTY) as FieldName[]).find((name) => found[name]);
    if (first) {
      document.getElementById(`f-${first}`)?.focus();
      return;
    }
    if (!parsed.success) return;
    setBusy(true);
    try {
      if (id === undefined) await client.createEnvironment(parsed.data);
      else await client.updateEnvironment(id, parsed.data);
      navigate("/environments");
    } catch (err) {
      setFormError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (id === undefined) return;
    setBusy(true);
    try {
      await client.deleteEnvironment(id);
      navigate("/environments");
    } catch (err) {
      setFormError(messageOf(err));
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  }

  const field = formFields(fields, errors, set);

  const title = id === undefined ? "New environment" : "Edit environment";
  return (
    <main id="main" class="page">
      <header class="page-head">
        <BackLink href="/environments" screen="Environments" />
        <h1>{title}</h1>
      </header>
      {!loaded && !formError && <p class="muted center">Loading…</p>}
      {loaded && (
        <form class="stack card" onSubmit={save} noValidate aria-label={title} aria-describedby={formError ? "form-error" : undefined}>
          {formError && (
            <p class="banner error" id="form-error" role="alert">
              {formError}
            </p>
          )}
          {field("name", "Name", (p) => <input {...p} autocomplete="off" placeholder="node app" />)}
          {field(
            "repository",
            "Repository match",
            (p) => <input {...p} autocomplete="off" spellcheck={false} inputMode="url" placeholder="https://github.com/you/" />,
            "A prefix of the repository URL, or a pattern with * (any characters). The longest match wins.",
          )}
          {field(
            "setup",
            "Setup script",
            (p) => <textarea {...p} rows={4} spellcheck={false} class="mono" placeholder="npm ci" />,
            "Runs with sh -c in the workspace before the agent, with the setup network below.",
          )}
          {field(
            "setupHosts",
            "Hosts the setup may reach",
            (p) => <textarea {...p} rows={3} spellcheck={false} autocapitalize="off" class="mono" placeholder="registry.example.com" />,
            "One per line: host, *.domain or host:port, besides the runner's package registries.",
          )}
          {field(
            "agentHosts",
            "Hosts the agent may reach",
            (p) => <textarea {...p} rows={2} spellcheck={false} autocapitalize="off" class="mono" placeholder="api.example.com:8443" />,
            "One per line. The agent reaches nothing else unless you allow it during a task.",
          )}
          {field(
            "variables",
            "Variables",
            (p) => <textarea {...p} rows={3} spellcheck={false} autocapitalize="off" class="mono" placeholder="NODE_ENV=test" />,
            "NAME=value, one per line, set in the task's containers. Not for secrets: those stay on the runner.",
          )}
          {field(
            "image",
            "Image",
            (p) => <input {...p} autocomplete="off" spellcheck={false} autocapitalize="off" placeholder="the runner's worker image" />,
            "Leave empty for the runner's worker image. Another image runs only on a runner whose allowedImages lists it.",
          )}
          <button type="submit" class="button primary wide" disabled={busy}>
            {busy ? "Saving…" : id === undefined ? "Save environment" : "Save changes"}
          </button>
          {id !== undefined &&
            (confirming ? (
              <div class="confirm" role="group" aria-label={`Confirm deleting ${fields.name}`}>
                <span>Delete {fields.name}? Tasks already created keep their copy.</span>
                <div class="row end">
                  <button type="button" class="button ghost" onClick={() => setConfirming(false)}>
                    Keep it
                  </button>
                  <button type="button" class="button danger" disabled={busy} onClick={() => void remove()}>
                    Yes, delete
                  </button>
                </div>
              </div>
            ) : (
              <button type="button" class="button ghost danger-text" onClick={() => setConfirming(true)}>
                Delete environment
              </button>
            ))}
        </form>
      )}
    </main>
  );
}
