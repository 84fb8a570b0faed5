/**
 * Approvals on the phone: the card of a question the task waits on (a plan to approve, edit
 * or reject; a command, a file write or a host to allow once, always, or not), and the feed's line
 * for a question once answered or expired. Answers go through
 * `POST /v1/tasks/:id/approvals/:approvalID`; the card closes when the answer's event arrives.
 */
import { useState } from "preact/hooks";
import type { FeedItem } from "../../shared/client/index.ts";
import type { ApprovalDecision } from "../../shared/approvals.ts";
import { approvalPrefix } from "../../shared/approval-rules.ts";
import { ErrorLine } from "./form-field.tsx";
import { useSession } from "./session.tsx";
import { messageOf } from "./sign-in.tsx";

export type ApprovalItem = Extract<FeedItem, { kind: "approval" }>;

const ASKS: Record<ApprovalItem["about"], string> = {
  plan: "The agent proposes a plan",
  command: "The agent wants to run a command",
  write: "The agent wants to write a file",
  egress: "The agent wants to reach a host",
};

export function ApprovalCard({ taskID, item }: { taskID: string; item: ApprovalItem }) {
  const { client } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [plan, setPlan] = useState(item.subject);
  const headingID = `approval-${item.approvalID}`;
  const always = approvalPrefix(item.about, item.subject) ?? item.subject;

  async function answer(decision: ApprovalDecision, text?: string) {
    setBusy(true);
    setError(null);
    try {
      await client.answerApproval(taskID, item.approvalID, text === undefined ? { decision } : { decision, text });
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  }

  return (
    <section class="approval card" role="region" aria-labelledby={headingID}>
      <p class="approval-badge">Needs you</p>
      <h2 id={headingID}>{ASKS[item.about]}</h2>
      {item.about === "plan" && editing ? (
        <>
          <label for={`${headingID}-text`} class="sr-only">
            The plan
          </label>
          <textarea id={`${headingID}-text`} rows={8} value={plan} onInput={(e) => setPlan(e.currentTarget.value)} />
        </>
      ) : item.about === "plan" ? (
        <p class="approval-plan">{item.subject}</p>
      ) : (
        <pre class="approval-subject">
          <code>{item.subject}</code>
        </pre>
      )}
      <ErrorLine error={error} />
      <div class="row wrap approval-actions">
        {item.about === "plan" ? (
          editing ? (
            <>
              <button type="button" class="button primary" disabled={busy || plan.trim() === ""} onClick={() => void answer("edit", plan.trim())}>
                Send edited plan
              </button>
              <button type="button" class="button ghost" disabled={busy} onClick={() => setEditing(false)}>
                Back
              </button>
            </>
          ) : (
            <>
              <button type="button" class="button primary" disabled={busy} onClick={() => void answer("yes")}>
                Approve
              </button>
              <button type="button" class="button ghost" disabled={busy} onClick={() => setEditing(true)}>
                Edit
              </button>
              <button type="button" class="button ghost danger-text" disabled={busy} onClick={() => void answer("no")}>
                Reject and cancel
              </button>
            </>
          )
        ) : (
          <>
            <button type="button" class="button primary" disabled={busy} onClick={() => void answer("yes")}>
              Yes
            </button>
            <button type="button" class="button ghost" disabled={busy} onClick={() => void answer("always")}>
              Always <span class="approval-prefix">{always}</span>
            </button>
            <button type="button" class="button ghost danger-text" disabled={busy} onClick={() => void answer("no")}>
              No
            </button>
          </>
        )}
      </div>
    </section>
  );
}

const DECIDED: Record<ApprovalDecision, string> = { yes: "Allowed", always: "Always allowed", no: "Declined", edit: "Edited and approved" };

/** A question in the feed: what it asked and how it ended. */
export function ApprovalLine({ item }: { item: ApprovalItem }) {
  const what = item.about === "plan" ? "the plan" : item.about === "command" ? "a command" : item.about === "egress" ? `${item.subject}` : "a file write";
  if (item.state === "pending") return <p class="status-line">Asks for approval of {what}</p>;
  if (item.state === "expired") return <p class="status-line">No answer in time: {what} counts as declined</p>;
  const answer = item.answer!;
  const decided = item.about === "plan" && answer.decision === "yes" ? "Approved" : item.about === "plan" && answer.decision === "no" ? "Rejected" : DECIDED[answer.decision];
  return (
    <p class="status-line">
      {decided} {what} ({answer.by === "rule" ? "by an always answer" : answer.by})
    </p>
  );
}
