import { DurableObject } from "cloudflare:workers";

export class TaskRoom extends DurableObject<Env> {}
export class Account extends DurableObject<Env> {}

export default {
  async fetch(): Promise<Response> {
    return Response.json({ ok: true });
  },
} satisfies ExportedHandler<Env>;
