/**
 * The Worker entry: the Hono app (answering once an unread request body has been read, see
 * unread-body.ts), and the two Durable Object classes wrangler.toml binds.
 */
import { app } from "./app.ts";
import { answerAfterBody } from "./unread-body.ts";

export { Account } from "./account/index.ts";
export { TaskRoom } from "./task-room/index.ts";

export default {
  fetch: (request, env, ctx) => answerAfterBody(request, (r) => app.fetch(r, env, ctx)),
} satisfies ExportedHandler<Env>;
