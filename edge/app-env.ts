/**
 * The Hono environment of the Worker (internal to edge/): bindings, what the auth
 * middlewares put on the context, and the stubs of the two Durable Objects by name.
 */
import type { UserIdentity } from "./auth/index.ts";

export type RunnerIdentity = { accountID: string; runnerID: string };

export type AppEnv = {
  Bindings: Env;
  Variables: { user: UserIdentity; runner: RunnerIdentity };
};

export function accountStub(env: Env, accountID: string): DurableObjectStub<import("./account/index.ts").Account> {
  return env.ACCOUNT.get(env.ACCOUNT.idFromName(accountID));
}

export function roomStub(env: Env, taskID: string): DurableObjectStub<import("./task-room/index.ts").TaskRoom> {
  return env.TASK_ROOM.get(env.TASK_ROOM.idFromName(taskID));
}
