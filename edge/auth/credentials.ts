/**
 * Opaque secrets of the edge and the ids it makes.
 *
 *   registration token  trr_<base64url(accountID)>.<mac>.<secret>            single use, ≤ 1 h
 *   runner credential   trc_<base64url(accountID)>.<mac>.<runnerID>.<secret>
 *
 * The account is in the string so the Worker knows which Account DO to ask; that DO
 * stores only the SHA-256 of the secret, so a leaked database holds nothing usable.
 * `mac` is an HMAC-SHA-256 of the kind and the account, keyed by a key derived from
 * CREDENTIAL_SECRET (else AUTH_SECRET). The Worker checks it before it names a Durable
 * Object, so a made-up account never reaches (and never creates) an Account object.
 */
const REGISTRATION_PREFIX = "trr_";
const CREDENTIAL_PREFIX = "trc_";
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;
const RUNNER_ID_RE = /^rnr_[0-9a-f]{16}$/;
const TASK_ID_RE = /^tsk_[0-9a-f]{20}$/;

const MAC_RE = /^[A-Za-z0-9_-]{43}$/;
const MAC_KEY_LABEL = "tether credential account mac v1";

export type RegistrationToken = { accountID: string; secret: string };
export type RunnerCredential = { accountID: string; runnerID: string; secret: string };
/** The edge secrets a credential MAC key derives from. */
export type CredentialKeys = { CREDENTIAL_SECRET?: string; AUTH_SECRET?: string };
type Kind = typeof REGISTRATION_PREFIX | typeof CREDENTIAL_PREFIX;

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64urlBytes(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

function fromBase64url(text: string): string | null {
  const bytes = fromBase64urlBytes(text);
  if (!bytes) return null;
  try {
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

/** The HMAC key for account MACs, derived from the edge's secret; null when the edge has none. */
async function macKey(keys: CredentialKeys): Promise<CryptoKey | null> {
  const secret = keys.CREDENTIAL_SECRET || keys.AUTH_SECRET;
  if (!secret) return null;
  const encode = (text: string) => new TextEncoder().encode(text);
  const root = await crypto.subtle.importKey("raw", encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const derived = await crypto.subtle.sign("HMAC", root, encode(MAC_KEY_LABEL));
  return crypto.subtle.importKey("raw", derived, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

function macInput(kind: Kind, accountID: string): Uint8Array {
  return new TextEncoder().encode(`${kind}\n${accountID}`);
}

async function accountMAC(keys: CredentialKeys, kind: Kind, accountID: string): Promise<string> {
  const key = await macKey(keys);
  if (!key) throw new Error("the edge has neither CREDENTIAL_SECRET nor AUTH_SECRET to sign credentials with");
  return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, macInput(kind, accountID))));
}

/** Constant-time check of an account MAC (`crypto.subtle.verify`). */
async function verifyAccountMAC(keys: CredentialKeys, kind: Kind, accountID: string, mac: string): Promise<boolean> {
  const key = await macKey(keys);
  const bytes = fromBase64urlBytes(mac);
  if (!key || !bytes) return false;
  return crypto.subtle.verify("HMAC", key, bytes, macInput(kind, accountID));
}

/** True when the edge can sign credentials (it has CREDENTIAL_SECRET or AUTH_SECRET). */
export function canSignCredentials(keys: CredentialKeys): boolean {
  return !!(keys.CREDENTIAL_SECRET || keys.AUTH_SECRET);
}

export async function formatRegistrationToken(keys: CredentialKeys, t: RegistrationToken): Promise<string> {
  const mac = await accountMAC(keys, REGISTRATION_PREFIX, t.accountID);
  return `${REGISTRATION_PREFIX}${base64url(new TextEncoder().encode(t.accountID))}.${mac}.${t.secret}`;
}

/** The token's parts when it is well formed and its account MAC is the edge's; else null. */
export async function parseRegistrationToken(keys: CredentialKeys, token: string): Promise<RegistrationToken | null> {
  if (!token.startsWith(REGISTRATION_PREFIX)) return null;
  const parts = token.slice(REGISTRATION_PREFIX.length).split(".");
  if (parts.length !== 3) return null;
  const [account, mac, secret] = parts as [string, string, string];
  const accountID = fromBase64url(account);
  if (!accountID || !MAC_RE.test(mac) || !SECRET_RE.test(secret)) return null;
  if (!(await verifyAccountMAC(keys, REGISTRATION_PREFIX, accountID, mac))) return null;
  return { accountID, secret };
}

export async function formatRunnerCredential(keys: CredentialKeys, c: RunnerCredential): Promise<string> {
  const mac = await accountMAC(keys, CREDENTIAL_PREFIX, c.accountID);
  return `${CREDENTIAL_PREFIX}${base64url(new TextEncoder().encode(c.accountID))}.${mac}.${c.runnerID}.${c.secret}`;
}

/** The credential's parts when it is well formed and its account MAC is the edge's; else null. */
export async function parseRunnerCredential(keys: CredentialKeys, token: string): Promise<RunnerCredential | null> {
  if (!token.startsWith(CREDENTIAL_PREFIX)) return null;
  const parts = token.slice(CREDENTIAL_PREFIX.length).split(".");
  if (parts.length !== 4) return null;
  const [account, mac, runnerID, secret] = parts as [string, string, string, string];
  const accountID = fromBase64url(account);
  if (!accountID || !MAC_RE.test(mac) || !isRunnerID(runnerID) || !SECRET_RE.test(secret)) return null;
  if (!(await verifyAccountMAC(keys, CREDENTIAL_PREFIX, accountID, mac))) return null;
  return { accountID, runnerID, secret };
}

/** True when the string looks like a runner credential (so a user route can say why it refuses it). */
export function looksLikeRunnerCredential(token: string): boolean {
  return token.startsWith(CREDENTIAL_PREFIX) || token.startsWith(REGISTRATION_PREFIX);
}
