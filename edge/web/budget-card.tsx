/**
 * The card of a task paused at a reached budget: which limit, what is spent and what remains of
 * each, and "Raise to … and continue" (`PATCH /v1/tasks/:id/limits`), prefilled with twice the
 * limit within its bound. The card goes when the feed sees the raise (or the task runs again).
 */
import { useState } from "preact/hooks";
import { type BudgetLimit, type BudgetReachedData, RaiseLimitsRequest } from "../../shared/budget.ts";
import { BUDGET_LIMITS } from "../../shared/task-helpers.ts";
import { TaskLimits } from "../../shared/task.ts";
import { formatTokens } from "./format.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";

const LABEL: Record<BudgetLimit, string> = { maxTurns: "Model calls", maxTokens: "Tokens", maxCostUSD: "Cost", timeoutMinutes: "Wall time" };
const NOUN: Record<BudgetLimit, string> = { maxTurns: "model call limit", maxTokens: "token limit", maxCostUSD: "cost limit", timeoutMinutes: "time limit" };

/** The largest value each limit takes (`TaskLimits`' bounds). */
const MAXIMUM: Record<BudgetLimit, number> = {
  maxTurns: TaskLimits.shape.maxTurns.unwrap().maxValue ?? 1000,
  maxTokens: TaskLimits.shape.maxTokens.unwrap().maxValue ?? 100_000_000,
  maxCostUSD: TaskLimits.shape.maxCostUSD.unwrap().maxValue ?? 10_000,
  timeoutMinutes: TaskLimits.shape.timeoutMinutes.unwrap().maxValue ?? 1440,
};

function amount(limit: BudgetLimit, n: number): string {
  switch (limit) {
    case "maxTurns":
      return String(Math.round(n));
    case "maxTokens":
      return formatTokens(Math.round(n));
    case "maxCostUSD":
      return `$${n.toFixed(2)}`;
    case "timeoutMinutes":
      return `${Math.round(n)} min`;
  }
}

/** Twice the limit, within its bound; whole units but for dollars (cents). */
function suggestion(limit: BudgetLimit, current: number): number {
  const doubled = Math.min(MAXIMUM[limit], current * 2);
  return limit === "maxCostUSD" ? Math.round(doubled * 100) / 100 : Math.round(doubled);
}

export function BudgetCard({ taskID, reached }: { taskID: string; reached: BudgetReachedData }) {
  const { client } = useSession();
  const limit = reached.limit;
  const current = reached.limits[limit];
  const [value, setValue] = useState(current === undefined ? "" : String(suggestion(limit, current)));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const atMaximum = current !== undefined && current >= MAXIMUM[limit];

  async function raise(event: Event) {
    event.preventDefault();
    const next = Number(value);
    const parsed = RaiseLimitsRequest.safeParse({ [limit]: next });
    if (value.trim() === "" || !parsed.success || current === undefined || !(next > current)) {
      setError(`Enter a ${NOUN[limit]} above ${amount(limit, current ?? 0)}, at most ${amount(limit, MAXIMUM[limit])}.`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await client.raiseLimits(taskID, parsed.data);
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }

  const id = `raise-${limit}`;
  return (
    <section class="budget-card" aria-labelledby="budget-title">
      <h2 id="budget-title">Paused: {NOUN[limit]} reached</h2>
      <p class="reason">{reached.reason}</p>
      <dl class="budget-table" aria-label="Budget">
        {BUDGET_LIMITS.filter((name) => reached.limits[name] !== undefined).map((name) => (
          <div key={name} class={name === limit ? "reached" : undefined}>
            <dt>{LABEL[name]}</dt>
            <dd>
              {amount(name, reached.spent[name] ?? 0)} of {amount(name, reached.limits[name]!)} · {amount(name, reached.remaining[name] ?? 0)} left
            </dd>
          </div>
        ))}
      </dl>
      {atMaximum ? (
        <p class="hint">This limit is at its maximum: finish or cancel the task.</p>
      ) : (
        <form class="budget-raise" onSubmit={raise} aria-label="Raise the limit" noValidate>
          <label for={id}>New {NOUN[limit]}</label>
          <div class="row">
            <input
              id={id}
              type="number"
              inputMode={limit === "maxCostUSD" ? "decimal" : "numeric"}
              min={current}
              max={MAXIMUM[limit]}
              step={limit === "maxCostUSD" ? 0.01 : 1}
              value={value}
              aria-invalid={error ? "true" : undefined}
              aria-describedby={error ? `${id}-error` : undefined}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
            <button type="submit" class="button primary" disabled={busy}>
              {busy ? "Raising…" : `Raise to ${value.trim() === "" ? "…" : amount(limit, Number(value) || 0)} and continue`}
            </button>
          </div>
          {error && (
            <p class="field-error" id={`${id}-error`} role="alert">
              {error}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
