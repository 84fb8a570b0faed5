/**
 * Voluntary Application Server Identification (RFC 8292) for Web Push (internal to edge/push/).
 *
 * The edge's VAPID key pair comes from the env: `VAPID_PUBLIC_KEY` is the uncompressed P-256
 * point (65 bytes, base64url; the browser's `applicationServerKey`), `VAPID_PRIVATE_KEY` the
 * private scalar (32 bytes, base64url), `VAPID_SUBJECT` a `mailto:` or `https:` contact.
 * Each push carries `Authorization: vapid t=<JWT>, k=<public key>`, the JWT signed ES256
 * with `aud` the push service's origin, `exp` within a day and `sub` the subject.
 */
import { decodeBase64url, encodeBase64url } from "./base64url.ts";

export type VapidKeys = { publicKey: string; privateKey: string; subject: string };

/** How long a VAPID token is valid (RFC 8292 allows at most 24 hours). */
const TOKEN_SECONDS = 12 * 60 * 60;

/** The configured VAPID keys, or null when the env lacks any of them (push is then off). */
export function vapidKeysOf(env: Env): VapidKeys | null {
  const publicKey = env.VAPID_PUBLIC_KEY?.trim();
  const privateKey = env.VAPID_PRIVATE_KEY?.trim();
  const subject = env.VAPID_SUBJECT?.trim();
  if (!publicKey || !privateKey || !subject) return null;
  return { publicKey, privateKey, subject };
}

/** The `Authorization` header value for a push to `endpoint`. */
export async function vapidAuthorization(keys: VapidKeys, endpoint: string, now = Date.now()): Promise<string> {
  const header = { typ: "JWT", alg: "ES256" };
  const claims = { aud: new URL(endpoint).origin, exp: Math.floor(now / 1000) + TOKEN_SECONDS, sub: keys.subject };
  const text = new TextEncoder();
  const signingInput = `${encodeBase64url(text.encode(JSON.stringify(header)))}.${encodeBase64url(text.encode(JSON.stringify(claims)))}`;
  const key = await importSigningKey(keys);
  // WebCrypto's ECDSA signature is r ‖ s (64 bytes), the JWS form.
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, text.encode(signingInput)));
  return `vapid t=${signingInput}.${encodeBase64url(signature)}, k=${keys.publicKey}`;
}

async function importSigningKey(keys: VapidKeys): Promise<CryptoKey> {
  const point = decodeBase64url(keys.publicKey);
  if (point.length !== 65 || point[0] !== 4) throw new Error("VAPID_PUBLIC_KEY is not an uncompressed P-256 point (65 bytes, base64url)");
  if (decodeBase64url(keys.privateKey).length !== 32) throw new Error("VAPID_PRIVATE_KEY is not a P-256 private key (32 bytes, base64url)");
  const jwk: JsonWebKey = {
    kty: "EC",
    crv: "P-256",
    x: encodeBase64url(point.slice(1, 33)),
    y: encodeBase64url(point.slice(33, 65)),
    d: keys.privateKey,
  };
  return crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
}
