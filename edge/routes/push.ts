/**
 * Web Push opt-in per device (user token): `GET /v1/push/key` (the VAPID public key),
 * `POST /v1/push/subscriptions` (a browser's PushSubscription) and
 * `DELETE /v1/push/subscriptions` (by endpoint). An edge without VAPID keys answers 404.
 */
import { Hono } from "hono";
import { ErrorCode, LIMITS, type PushKey, PushSubscriptionRequest, PushUnsubscribeRequest } from "../../shared/index.ts";
import { type AppEnv, accountStub } from "../app-env.ts";
import { requireUser } from "../auth/index.ts";
import { fail, readJSON } from "../http-error.ts";

const NOT_CONFIGURED = "push notifications are not configured on this edge (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY, VAPID_SUBJECT)";

export const pushRoutes = new Hono<AppEnv>();

pushRoutes.use("*", requireUser);

pushRoutes.get("/key", async (c) => {
  const publicKey = await accountStub(c.env, c.get("user").accountID).pushKey();
  if (publicKey === null) throw fail(ErrorCode.NotFound, NOT_CONFIGURED);
  return c.json({ publicKey } satisfies PushKey);
});

pushRoutes.post("/subscriptions", async (c) => {
  const body = await readJSON(c.req.raw, PushSubscriptionRequest, LIMITS.maxBodyBytes);
  const { accountID } = c.get("user");
  if (!(await accountStub(c.env, accountID).subscribePush(accountID, body))) throw fail(ErrorCode.NotFound, NOT_CONFIGURED);
  return c.body(null, 204);
});

pushRoutes.delete("/subscriptions", async (c) => {
  const body = await readJSON(c.req.raw, PushUnsubscribeRequest, LIMITS.maxBodyBytes);
  if (!(await accountStub(c.env, c.get("user").accountID).unsubscribePush(body.endpoint))) throw fail(ErrorCode.NotFound, "no such subscription");
  return c.body(null, 204);
});
