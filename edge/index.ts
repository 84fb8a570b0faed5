/**
 * The Worker entry: the Hono app, and the two Durable Object classes wrangler.toml binds.
 */
import { app } from "./app.ts";

export { Account } from "./account/index.ts";
export { TaskRoom } from "./task-room/index.ts";

export default { fetch: app.fetch } satisfies ExportedHandler<Env>;
