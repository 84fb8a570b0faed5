/**
 * User tokens: a JWT in `Authorization: Bearer`, or for browsers' WebSockets as the
 * subprotocol `bearer.<jwt>` (`BEARER_SUBPROTOCOL_PREFIX`) offered beside `SUBPROTOCOL`.
 *
 * HS256 with AUTH_SECRET (self-hosting, `npm run token`), or RS256/ES256 keys from
 * AUTH_JWKS_URL (any OIDC provider; then AUTH_ISSUER and AUTH_AUDIENCE are required).
 * Algorithms are pinned per key source, so `alg: none` or a swapped algorithm is refused.
 * `sub` is the user; the account is the `org` claim when present, else the user. Account IDs
 * of the two kinds live apart (`org:<org>`, `user:<sub>`), so a user whose `sub` equals an
 * org's name never lands in that org.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from "jose";
import { BEARER_SUBPROTOCOL_PREFIX } from "../../shared/index.ts";

const HS_ALGORITHMS = ["HS256"];
const JWKS_ALGORITHMS = ["RS256", "ES256"];
const CLOCK_TOLERANCE_SECONDS = 5;
const MAX_ID_CHARS = 256;

export type UserIdentity = { userID: string; accountID: string };
export type AuthConfig = {
  AUTH_SECRET?: string;
  AUTH_JWKS_URL?: string;
  AUTH_ISSUER?: string;
  AUTH_AUDIENCE?: string;
};
export type AuthResult = { ok: true; user: UserIdentity } | { ok: false; message: string };

const jwksCache = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

function remoteKeys(url: string): ReturnType<typeof createRemoteJWKSet> {
  let set = jwksCache.get(url);
  if (!set) {
    set = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    jwksCache.set(url, set);
  }
  return set;
}

/** The token of a request: `Authorization: Bearer`, else a `bearer.` WebSocket subprotocol. */
export function bearerToken(req: Request): string | null {
  const auth = req.headers.get("authorization");
  if (auth !== null) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1]! : null;
  }
  for (const p of offeredProtocols(req)) {
    if (p.startsWith(BEARER_SUBPROTOCOL_PREFIX)) return p.slice(BEARER_SUBPROTOCOL_PREFIX.length) || null;
  }
  return null;
}

export function offeredProtocols(req: Request): string[] {
  const header = req.headers.get("sec-websocket-protocol");
  if (!header) return [];
  return header
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/** The account of an org (`org` claim). */
export function orgAccountID(org: string): string {
  return `org:${org}`;
}

/** The personal account of a user without an `org` claim. */
export function userAccountID(sub: string): string {
  return `user:${sub}`;
}

function identityOf(payload: JWTPayload): AuthResult {
  const sub = payload.sub;
  if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_ID_CHARS) {
    return { ok: false, message: "token has no usable sub claim" };
  }
  const org = payload["org"];
  if (org !== undefined && (typeof org !== "string" || org.length === 0 || org.length > MAX_ID_CHARS)) {
    return { ok: false, message: "token's org claim is not a usable string" };
  }
  return { ok: true, user: { userID: sub, accountID: org === undefined ? userAccountID(sub) : orgAccountID(org) } };
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `token claim check failed: ${err.claim} ${err.reason}`;
  if (err instanceof errors.JOSEAlgNotAllowed) return "token algorithm is not allowed";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "token signature is not valid";
  if (err instanceof errors.JWKSNoMatchingKey) return "no key matches the token";
  if (err instanceof errors.JOSEError) return `token is not valid (${err.code})`;
  return "token is not valid";
}

/** Verifies a user JWT. Never throws: a bad token is a value with the reason. */
export async function verifyUserToken(token: string, config: AuthConfig): Promise<AuthResult> {
  let alg: string | undefined;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    return { ok: false, message: "token is not a JWT" };
  }
  const issuer = config.AUTH_ISSUER || undefined;
  const audience = config.AUTH_AUDIENCE || undefined;
  const common = { issuer, audience, clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ["exp", "sub"] };
  try {
    if (alg !== undefined && HS_ALGORITHMS.includes(alg)) {
      if (!config.AUTH_SECRET) return { ok: false, message: "HS256 tokens are not accepted here (no AUTH_SECRET)" };
      const key = new TextEncoder().encode(config.AUTH_SECRET);
      const { payload } = await jwtVerify(token, key, { ...common, algorithms: HS_ALGORITHMS });
      return identityOf(payload);
    }
    if (alg !== undefined && JWKS_ALGORITHMS.includes(alg)) {
      if (!config.AUTH_JWKS_URL) return { ok: false, message: `${alg} tokens are not accepted here (no AUTH_JWKS_URL)` };
      if (!issuer || !audience) {
        console.error({ msg: "AUTH_JWKS_URL is set without AUTH_ISSUER and AUTH_AUDIENCE; refusing JWKS tokens" });
        return { ok: false, message: "the edge is not configured for JWKS tokens (AUTH_ISSUER and AUTH_AUDIENCE are required)" };
      }
      const { payload } = await jwtVerify(token, remoteKeys(config.AUTH_JWKS_URL), { ...common, algorithms: JWKS_ALGORITHMS });
      return identityOf(payload);
    }
    return { ok: false, message: `token algorithm ${alg ?? "(none)"} is not allowed` };
  } catch (err) {
    return { ok: false, message: reasonOf(err) };
  }
}
