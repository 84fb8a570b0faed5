/**
 * The new-task form. It checks the body with the same schema the edge uses
 * (CreateTaskRequest), shows each message under its field, then shows the edge's answer.
 * The environment is a saved one picked by name, or left to the account to match by the
 * repository; a pasted setup script runs instead of the environment's or the repository's.
 */
import { useEffect, useState } from "preact/hooks";
import type { z } from "zod";
import type { Environment } from "../../shared/environment.ts";
import { CreateTaskRequest } from "../../shared/task.ts";
import { formFields } from "./form-field.tsx";
import { BackLink, navigate } from "./router.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";

const MODELS = ["claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5"];

type Fields = {
  url: string;
  ref: string;
  prompt: string;
  model: string;
  effort: string;
  labels: string;
  maxTurns: string;
  maxCostUSD: string;
  timeoutMinutes: string;
  maxTokens: string;
  environment: string;
  setup: string;
  mode: string;
};
type FieldName = keyof Fields;

const EMPTY: Fields = { url: "", ref: "", prompt: "", model: "", effort: "", labels: "", maxTurns: "", maxCostUSD: "", timeoutMinutes: "", maxTokens: "", environment: "", setup: "", mode: "" };
const LAST_REPO = "tether.lastRepo";

/** The request body the form describes; blank optional fields are left out. */
export function bodyOf(f: Fields): Record<string, unknown> {
  const limits: Record<string, number> = {};
  for (const key of ["maxTurns", "maxCostUSD", "timeoutMinutes", "maxTokens"] as const) {
    if (f[key].trim() !== "") limits[key] = Number(f[key]);
  }
  const labels = f.labels
    .split(",")
    .map((l) => l.trim())
    .filter(Boolean);
  return {
    repo: { url: f.url.trim(), ...(f.ref.trim() ? { ref: f.ref.trim() } : {}) },
    prompt: f.prompt,
    ...(f.model.trim() ? { model: f.model.trim() } : {}),
    ...(f.effort ? { effort: f.effort } : {}),
    ...(labels.length ? { labels } : {}),
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(f.environment ? { environment: f.environment } : {}),
    ...(f.setup.trim() ? { setup: f.setup } : {}),
    ...(f.mode ? { mode: f.mode } : {}),
  };
}

function fieldOf(path: PropertyKey[]): FieldName | null {
  const [a, b] = path;
  if (a === "repo") return b === "ref" ? "ref" : "url";
  if (a === "limits" && typeof b === "string" && b in EMPTY) return b as FieldName;
  if (a === "prompt" || a === "model" || a === "effort" || a === "labels" || a === "setup" || a === "environment" || a === "mode") return a;
  return null;
}

function friendly(field: FieldName, issue: z.core.$ZodIssue): string {
  if (field === "prompt" && issue.code === "too_small") return "Say what the agent should do.";
  if (field === "url" && issue.code === "too_small") return "Give the repository to work on.";
  if (field === "labels") return "Labels are letters, digits and _ . : - (comma-separated).";
  if (issue.code === "invalid_type") return issue.expected === "int" ? "Enter a whole number." : "Enter a number.";
  if (issue.code === "too_small" && issue.origin === "number") return issue.inclusive ? `At least ${issue.minimum}.` : `More than ${issue.minimum}.`;
  if (issue.code === "too_big" && issue.origin === "number") return `At most ${issue.maximum}.`;
  return issue.message.charAt(0).toUpperCase() + issue.message.slice(1);
}

export function NewTask() {
  const { client } = useSession();
  const [fields, setFields] = useState<Fields>(() => ({ ...EMPTY, url: localStorage.getItem(LAST_REPO) ?? "" }));
  const [errors, setErrors] = useState<Partial<Record<FieldName, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [environments, setEnvironments] = useState<Environment[]>([]);

  useEffect(() => {
    let stale = false;
    client.listEnvironments().then(
      (list) => !stale && setEnvironments(list),
      () => !stale && setEnvironments([]),
    );
    return () => {
      stale = true;
    };
  }, [client]);

  const set = (name: FieldName) => (e: { currentTarget: { value: string } }) => setFields((f) => ({ ...f, [name]: e.currentTarget.value }));

  async function submit(event: Event) {
    event.preventDefault();
    setFormError(null);
    const parsed = CreateTaskRequest.safeParse(bodyOf(fields));
    if (!parsed.success) {
      const found: Partial<Record<FieldName, string>> = {};
      for (const issue of parsed.error.issues) {
        const field = fieldOf(issue.path);
        if (field && !found[field]) found[field] = friendly(field, issue);
        else if (!field) setFormError(issue.message);
      }
      setErrors(found);
      const first = Object.keys(found)[0];
      if (first) document.getElementById(`f-${first}`)?.focus();
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      const task = await client.createTask(parsed.data);
      localStorage.setItem(LAST_REPO, parsed.data.repo.url);
      navigate(`/tasks/${encodeURIComponent(task.id)}`);
    } catch (err) {
      setFormError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  const field = formFields(fields, errors, set);

  return (
    <main id="main" class="page">
      <header class="page-head">
        <BackLink href="/" screen="Tasks" />
        <h1>New task</h1>
      </header>
      <form class="stack card" onSubmit={submit} noValidate aria-describedby={formError ? "form-error" : undefined}>
        {formError && (
          <p class="banner error" id="form-error" role="alert">
            {formError}
          </p>
        )}
        {field("url", "Repository", (p) => <input {...p} type="url" inputMode="url" autocomplete="off" spellcheck={false} placeholder="https://github.com/you/app.git" />)}
        {field("ref", "Branch or commit", (p) => <input {...p} autocomplete="off" spellcheck={false} placeholder="main" />, "Leave empty for the default branch.")}
        {field("prompt", "What should the agent do?", (p) => <textarea {...p} rows={6} placeholder="Fix the failing test in src/math.ts and explain the bug." />)}
        {field(
          "mode",
          "How it runs",
          (p) => (
            <select {...p} onChange={set("mode")}>
              <option value="">On its own</option>
              <option value="plan">Plan first: I approve the plan</option>
              <option value="ask">Ask me before each command and file write</option>
            </select>
          ),
          "Questions reach you as notifications; one left unanswered for 30 minutes counts as no.",
        )}
        {field(
          "environment",
          "Environment",
          (p) => (
            <select {...p} onChange={set("environment")}>
              <option value="">Match by repository</option>
              {environments.map((env) => (
                <option value={env.id} key={env.id}>
                  {env.name}
                </option>
              ))}
            </select>
          ),
          "A saved environment's setup, network and variables; by default the one whose repository pattern matches.",
        )}
        <details class="more" open={fields.setup !== "" || undefined}>
          <summary>Setup script</summary>
          {field(
            "setup",
            "Setup script",
            (p) => <textarea {...p} rows={4} spellcheck={false} class="mono" placeholder="npm ci" />,
            "Runs with sh -c in the workspace before the agent, instead of the environment's or the repository's .tether/setup.sh.",
          )}
        </details>
        <details class="more">
          <summary>Model, effort, limits and runner labels</summary>
          <div class="stack">
            {field("model", "Model", (p) => <input {...p} list="models" autocomplete="off" placeholder="runner's default" />)}
            <datalist id="models">
              {MODELS.map((m) => (
                <option value={m} key={m} />
              ))}
            </datalist>
            {field(
              "effort",
              "Effort",
              (p) => (
                <select {...p} onChange={set("effort")}>
                  <option value="">model's default</option>
                  <option value="low">low</option>
                  <option value="medium">medium</option>
                  <option value="high">high</option>
                </select>
              ),
              "How hard the model thinks: lower is faster and cheaper.",
            )}
            <div class="grid2">
              {field("maxTurns", "Max turns", (p) => <input {...p} type="number" inputMode="numeric" min={1} />)}
              {field("maxCostUSD", "Max cost (USD)", (p) => <input {...p} type="number" inputMode="decimal" min={0} step="0.01" />)}
              {field("timeoutMinutes", "Timeout (min)", (p) => <input {...p} type="number" inputMode="numeric" min={1} />)}
              {field("maxTokens", "Max tokens", (p) => <input {...p} type="number" inputMode="numeric" min={1} />)}
            </div>
            {field("labels", "Runner labels", (p) => <input {...p} autocomplete="off" spellcheck={false} placeholder="gpu, linux" />, "Only a runner with all these labels takes the task.")}
          </div>
        </details>
        <button type="submit" class="button primary wide" disabled={busy}>
          {busy ? "Starting…" : "Start task"}
        </button>
      </form>
    </main>
  );
}
