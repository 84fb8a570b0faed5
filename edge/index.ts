/**
 * The Worker entry: the Hono app (answering once an unread request body has been read, see
 * unread-body.ts), and the two Durable Object classes wrangler.toml binds. With
 * `TETHER_METER` = "1" (benchmarks only) the objects meter what they would be billed for and
 * `GET /v1/_meter` answers the counts (`meter.ts`).
 */
import { app } from "./app.ts";
import { Account as AccountObject } from "./account/index.ts";
import { meteredEnv, meterOn, meterSnapshot, metered } from "./meter.ts";
import { TaskRoom as TaskRoomObject } from "./task-room/index.ts";
import { answerAfterBody } from "./unread-body.ts";

export const Account = metered(AccountObject, "Account");
export const TaskRoom = metered(TaskRoomObject, "TaskRoom");

export default {
  fetch: (request, env, ctx) =>
    answerAfterBody(request, (r) => {
      if (!meterOn(env)) return app.fetch(r, env, ctx);
      if (new URL(r.url).pathname === "/v1/_meter") return Response.json({ objects: meterSnapshot() });
      return app.fetch(r, meteredEnv(env), ctx);
    }),
} satisfies ExportedHandler<Env>;
