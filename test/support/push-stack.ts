/**
 * The stack the Web Push tests share: a local push service stand-in checking against a fresh
 * VAPID key pair, the real edge under wrangler dev configured with those keys, a signed-in
 * user, and a scripted runner registered for that user and connected. `api` calls the edge
 * as that user; `dispose` closes the runner, the edge and the push service.
 */
import { newVapidKeys } from "../../scripts/vapid-keys.ts";
import { ScriptedRunner } from "../web-runner.ts";
import { startEdge, type WranglerEdge } from "./edge.ts";
import { PushService } from "./push-service.ts";

export interface PushStack {
  vapid: ReturnType<typeof newVapidKeys>;
  service: PushService;
  edge: WranglerEdge;
  token: string;
  runner: ScriptedRunner;
  /** A request to the edge as the signed-in user, with a JSON body when one is given. */
  api(method: string, path: string, body?: unknown): Promise<Response>;
  dispose(): Promise<void>;
}

/** Starts the push service, the edge with VAPID keys and a connected scripted runner for `user`. */
export async function startPushStack(user: string): Promise<PushStack> {
  const vapid = newVapidKeys();
  const service = new PushService(vapid.publicKey);
  let edge: WranglerEdge | undefined;
  let runner: ScriptedRunner | undefined;
  const dispose = async (): Promise<void> => {
    runner?.close();
    await edge?.dispose();
    await service.stop();
  };
  try {
    await service.start();
    edge = await startEdge({ vars: { VAPID_PUBLIC_KEY: vapid.publicKey, VAPID_PRIVATE_KEY: vapid.privateKey, VAPID_SUBJECT: "mailto:push-test@localhost" } });
    const url = edge.url;
    const token = await edge.userToken(user);
    runner = new ScriptedRunner(url);
    await runner.register(token);
    await runner.connect();
    const api = (method: string, path: string, body?: unknown): Promise<Response> =>
      fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    return { vapid, service, edge, token, runner, api, dispose };
  } catch (err) {
    await dispose();
    throw err;
  }
}
