/**
 * Registration tokens and runner credentials as the Account keeps them (internal to
 * edge/account/): only SHA-256 hashes are stored; a registration token is used up by
 * its first redemption, and lives REGISTRATION_TTL_SECONDS. The Account answers secrets;
 * the Worker, which holds the MAC key, formats them into tokens and credentials.
 */
import { CAPS, ErrorCode, type ErrorBody, type RegisterRunnerRequest, errorBody } from "../../shared/index.ts";
import type { AccountStore } from "./store.ts";
import { newRunnerID, newSecret, sha256Hex } from "../auth/index.ts";

/** Registration tokens live this long (the issue asks for an hour at most). */
export const REGISTRATION_TTL_SECONDS = 3600;

/** A new registration token's secret. */
export type MintedSecret = { secret: string; expiresAt: string };
/** A new runner and its credential's secret. */
export type RegisteredRunner = { runnerID: string; secret: string };

export async function mintRegistrationToken(store: AccountStore): Promise<MintedSecret | ErrorBody> {
  const secret = newSecret();
  const hash = await sha256Hex(secret);
  const now = Date.now();
  if (store.countOpenRegistrationTokens(now) >= CAPS.maxOpenRegistrationTokens) {
    return errorBody(ErrorCode.RateLimited, `this account has ${CAPS.maxOpenRegistrationTokens} open registration tokens: use one or wait for one to expire`);
  }
  const expiresAt = now + REGISTRATION_TTL_SECONDS * 1000;
  store.insertRegistrationToken(hash, expiresAt, now);
  return { secret, expiresAt: new Date(expiresAt).toISOString() };
}

export async function redeemRegistrationToken(
  store: AccountStore,
  secret: string,
  body: Omit<RegisterRunnerRequest, "token">,
): Promise<RegisteredRunner | ErrorBody> {
  const hash = await sha256Hex(secret);
  const credentialSecret = newSecret();
  const credentialHash = await sha256Hex(credentialSecret);
  // No await from here on: the token is used up and the runner stored in one turn.
  if (store.countRunners() >= CAPS.maxRunnersPerAccount) {
    return errorBody(ErrorCode.RateLimited, `this account has ${CAPS.maxRunnersPerAccount} runners: delete one first`);
  }
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
  return { runnerID: id, secret: credentialSecret };
}

export async function checkRunnerSecret(store: AccountStore, runnerID: string, secret: string): Promise<boolean> {
  const hash = await sha256Hex(secret);
  return store.getRunner(runnerID)?.secretHash === hash;
}
