/**
 * Opaque secrets of the edge and the ids it makes.
 *
 *   registration token  trr_<base64url(accountID)>.<secret>            single use, ≤ 1 h
 *   runner credential   trc_<base64url(accountID)>.<runnerID>.<secret>
 *
 * The account is in the string so the Worker knows which Account DO to ask; that DO
 * stores only the SHA-256 of the secret, so a leaked database holds nothing usable.
 */
const REGISTRATION_PREFIX = "trr_";
const CREDENTIAL_PREFIX = "trc_";
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;
const RUNNER_ID_RE = /^rnr_[0-9a-f]{16}$/;
const TASK_ID_RE = /^tsk_[0-9a-f]{20}$/;

export type RegistrationToken = { accountID: string; secret: string };
export type RunnerCredential = { accountID: string; runnerID: string; secret: string };

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** 32 random bytes, base64url: 43 characters. */
export function newSecret(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

export function newTaskID(): string {
  return `tsk_${randomHex(10)}`;
}

export function newRunnerID(): string {
  return `rnr_${randomHex(8)}`;
}

export function isTaskID(id: string): boolean {
  return TASK_ID_RE.test(id);
}

export function isRunnerID(id: string): boolean {
  return RUNNER_ID_RE.test(id);
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function formatRegistrationToken(t: RegistrationToken): string {
  return `${REGISTRATION_PREFIX}${base64url(new TextEncoder().encode(t.accountID))}.${t.secret}`;
}

export function parseRegistrationToken(token: string): RegistrationToken | null {
  if (!token.startsWith(REGISTRATION_PREFIX)) return null;
  const parts = token.slice(REGISTRATION_PREFIX.length).split(".");
  if (parts.length !== 2) return null;
  const [account, secret] = parts as [string, string];
  const accountID = fromBase64url(account);
  if (!accountID || !SECRET_RE.test(secret)) return null;
  return { accountID, secret };
}

export function formatRunnerCredential(c: RunnerCredential): string {
  return `${CREDENTIAL_PREFIX}${base64url(new TextEncoder().encode(c.accountID))}.${c.runnerID}.${c.secret}`;
}

export function parseRunnerCredential(token: string): RunnerCredential | null {
  if (!token.startsWith(CREDENTIAL_PREFIX)) return null;
  const parts = token.slice(CREDENTIAL_PREFIX.length).split(".");
  if (parts.length !== 3) return null;
  const [account, runnerID, secret] = parts as [string, string, string];
  const accountID = fromBase64url(account);
  if (!accountID || !isRunnerID(runnerID) || !SECRET_RE.test(secret)) return null;
  return { accountID, runnerID, secret };
}

/** True when the string looks like a runner credential (so a user route can say why it refuses it). */
export function looksLikeRunnerCredential(token: string): boolean {
  return token.startsWith(CREDENTIAL_PREFIX) || token.startsWith(REGISTRATION_PREFIX);
}
