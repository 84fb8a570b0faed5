/**
 * Sends one Web Push message (internal to edge/ but for the Account): the payload encrypted
 * for the subscription (encrypt.ts), posted to its endpoint with `TTL`,
 * `Content-Encoding: aes128gcm` and the VAPID `Authorization` (vapid.ts).
 *
 * The answer is a value: `sent` (2xx), `gone` (404 or 410: the subscription has expired or
 * was withdrawn, so the caller forgets it) or `failed` (anything else, logged here).
 */
import type { PushPayload } from "../../shared/index.ts";
import { decodeBase64url } from "./base64url.ts";
import { encryptPayload } from "./encrypt.ts";
import { type VapidKeys, vapidAuthorization } from "./vapid.ts";

/** A stored subscription: its endpoint and keys as the browser gave them (base64url). */
export type PushTarget = { endpoint: string; p256dh: string; auth: string };

export type PushOutcome = "sent" | "gone" | "failed";

/** How long the push service keeps an undelivered message: a day. */
const TTL_SECONDS = 24 * 60 * 60;

export async function sendPush(keys: VapidKeys, target: PushTarget, payload: PushPayload): Promise<PushOutcome> {
  let res: Response;
  try {
    const body = await encryptPayload(new TextEncoder().encode(JSON.stringify(payload)), {
      p256dh: decodeBase64url(target.p256dh),
      auth: decodeBase64url(target.auth),
    });
    res = await fetch(target.endpoint, {
      method: "POST",
      headers: {
        authorization: await vapidAuthorization(keys, target.endpoint),
        "content-encoding": "aes128gcm",
        "content-type": "application/octet-stream",
        ttl: String(TTL_SECONDS),
        urgency: "normal",
      },
      body,
    });
  } catch (err) {
    console.error({ msg: "push failed", endpoint: originOf(target.endpoint), taskID: payload.taskID, err: String(err) });
    return "failed";
  }
  await res.body?.cancel();
  if (res.ok) return "sent";
  if (res.status === 404 || res.status === 410) return "gone";
  console.error({ msg: "push refused", endpoint: originOf(target.endpoint), taskID: payload.taskID, status: res.status });
  return "failed";
}

/** An endpoint's origin: its path is a capability to reach the device, so logs keep only the host. */
function originOf(endpoint: string): string {
  return new URL(endpoint).origin;
}
