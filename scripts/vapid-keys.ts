/**
 * A fresh VAPID key pair (P-256) in the form the edge reads from its env (edge/push/vapid.ts):
 * the public key as the uncompressed point, the private key as its 32-byte scalar, both base64url.
 */
import { generateKeyPairSync } from "node:crypto";

export type VapidKeyPair = { publicKey: string; privateKey: string };

export function newVapidKeys(): VapidKeyPair {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const jwk = privateKey.export({ format: "jwk" });
  const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]);
  return { publicKey: point.toString("base64url"), privateKey: jwk.d! };
}

/** The `.dev.vars` lines of a fresh pair, with a local contact as the subject. */
export function vapidDevVars(): string {
  const keys = newVapidKeys();
  return `VAPID_PUBLIC_KEY=${keys.publicKey}\nVAPID_PRIVATE_KEY=${keys.privateKey}\nVAPID_SUBJECT=mailto:tether@localhost\n`;
}
