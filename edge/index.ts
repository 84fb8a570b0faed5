/**
 * The Worker entry: the Hono app, and the two Durable Object classes wrangler.toml binds.
 * With `TETHER_METER` = "1" (benchmarks only) the objects meter what they would be billed
 * for and `GET /v1/_meter` answers the counts (`meter.ts`).
 */
import { app } from "./app.ts";
import { Account as AccountObject } from "./account/index.ts";
import { meteredEnv, meterOn, meterSnapshot, metered } from "./meter.ts";
import { TaskRoom as TaskRoomObject } from "./task-room/index.ts";

export const Account = metered(AccountObject, "Account");
export const TaskRoom = metered(TaskRoomObject, "TaskRoom");

export default {
  fetch(request, env, ctx) {
    if (!meterOn(env)) return app.fetch(request, env, ctx);
    if (new URL(request.url).pathname === "/v1/_meter") return Response.json({ objects: meterSnapshot() });
    return app.fetch(request, meteredEnv(env), ctx);
  },
} satisfies ExportedHandler<Env>;
