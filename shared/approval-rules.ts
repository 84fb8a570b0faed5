/**
 * What an approval's "always" answer covers, free of zod so the phone app bundles it without
 * the schemas (approvals.ts holds the schemas and re-exports these): a command's prefix, a
 * file's path, an egress host; and whether a remembered rule answers a later question.
 */

/** What a question asks about (approvals.ts's `ApprovalKind` is their schema). */
export const APPROVAL_KINDS = ["plan", "command", "write", "egress"] as const;
type ApprovalKind = (typeof APPROVAL_KINDS)[number];

/** Characters after which a command is more than its prefix: a rule never covers a chained or substituted command. */
const SHELL_JOINERS = /[;&|`$()<>\n\r\\]/;

/**
 * What an "always" answer to a command covers: its first word, and the second when that is
 * a subcommand (`npm test`, `git status`), not an option or a path.
 */
export function commandPrefix(command: string): string {
  const words = command.trim().split(/\s+/).filter((w) => w !== "");
  const [first = "", second] = words;
  const sub = second !== undefined && /^[a-z][\w:-]*$/.test(second) ? ` ${second}` : "";
  return `${first}${sub}`.slice(0, 300);
}

/** The rule an egress question's `host:port` allows: the host alone for 443 and 80, else `host:port` (the phone's "Allow" takes the same). */
export function egressRule(subject: string): string {
  const m = /^(.*):(\d{1,5})$/.exec(subject.toLowerCase());
  const rule = m && m[2] !== "443" && m[2] !== "80" ? `${m[1]}:${m[2]}` : (m?.[1] ?? subject.toLowerCase());
  return rule.slice(0, 300);
}

/** What "always" covers for a question: the command's prefix, the file's path, the host (and port); nothing for a plan. */
export function approvalPrefix(kind: ApprovalKind, subject: string): string | undefined {
  if (kind === "command") return commandPrefix(subject);
  if (kind === "write") return subject.slice(0, 300);
  if (kind === "egress") return egressRule(subject);
  return undefined;
}

/** True when a remembered rule answers the question: the same prefix, and a command with nothing chained to it. */
export function ruleCovers(rule: { kind: ApprovalKind; prefix: string }, kind: ApprovalKind, subject: string): boolean {
  if (rule.kind !== kind || kind === "plan") return false;
  if (kind === "write") return subject === rule.prefix;
  if (kind === "egress") return egressRule(subject) === rule.prefix;
  if (SHELL_JOINERS.test(subject)) return false;
  const command = subject.trim().replace(/\s+/g, " ");
  return command === rule.prefix || command.startsWith(`${rule.prefix} `);
}
