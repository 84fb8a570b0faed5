/**
 * Registration tokens and runner credentials as the Account keeps them (internal to
 * edge/account/): only SHA-256 hashes are stored; a registration token is used up by
 * its first redemption, and lives REGISTRATION_TTL_SECONDS.
 */
import { ErrorCode, type ErrorBody, type RegisterRunnerRequest, type RegisterRunnerResponse, errorBody } from "../../shared/index.ts";
import type { AccountStore } from "./store.ts";
import { formatRegistrationToken, formatRunnerCredential, newRunnerID, newSecret, sha256Hex } from "../auth/index.ts";

/** Registration tokens live this long (the issue asks for an hour at most). */
export const REGISTRATION_TTL_SECONDS = 3600;

export async function mintRegistrationToken(store: AccountStore, accountID: string): Promise<{ token: string; expiresAt: string }> {
  const secret = newSecret();
  const hash = await sha256Hex(secret);
  const now = Date.now();
  const expiresAt = now + REGISTRATION_TTL_SECONDS * 1000;
  store.insertRegistrationToken(hash, expiresAt, now);
  return { token: formatRegistrationToken({ accountID, secret }), expiresAt: new Date(expiresAt).toISOString() };
}

export async function redeemRegistrationToken(
  store: AccountStore,
  accountID: string,
  secret: string,
  body: Omit<RegisterRunnerRequest, "token">,
): Promise<RegisterRunnerResponse | ErrorBody> {
  const hash = await sha256Hex(secret);
  const credentialSecret = newSecret();
  const credentialHash = await sha256Hex(credentialSecret);
  // No await from here on: the token is used up and the runner stored in one turn.
  const used = store.consumeRegistrationToken(hash, Date.now());
  if (used === "unknown") return errorBody(ErrorCode.Unauthorized, "registration token is not valid or was already used");
  if (used === "expired") return errorBody(ErrorCode.Unauthorized, "registration token has expired");
  const id = newRunnerID();
  store.insertRunner({
    id,
    name: body.name ?? `runner-${id.slice(4, 10)}`,
    labels: body.labels ?? [],
    capacity: body.capacity ?? 1,
    secretHash: credentialHash,
    createdAt: new Date().toISOString(),
    lastSeenAt: null,
    version: null,
  });
  return { runner: { id }, credential: formatRunnerCredential({ accountID, runnerID: id, secret: credentialSecret }) };
}

export async function checkRunnerSecret(store: AccountStore, runnerID: string, secret: string): Promise<boolean> {
  const hash = await sha256Hex(secret);
  return store.getRunner(runnerID)?.secretHash === hash;
}
