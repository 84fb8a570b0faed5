import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";

it("answers /healthz through the Worker's own fetch with 200 and { ok: true }", async () => {
  const res = await SELF.fetch("http://edge/healthz");
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(await res.json()).toEqual({ ok: true });
});
