import { DurableObject } from "cloudflare:workers";

export { TaskRoom } from "./task-room.ts";
export class Account extends DurableObject<Env> {}

export default {
  async fetch(): Promise<Response> {
    return Response.json({ ok: true });
  },
} satisfies ExportedHandler<Env>;
