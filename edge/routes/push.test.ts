import { describe, expect, it } from "vitest";
import { JSON_HEADERS, bearer, call, unique, userToken } from "../testing/edge.ts";

const KEYS = {
  p256dh: "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
  auth: "BTBZMqHH6r4Tts7J_aSIgg",
};

async function subscribe(token: string, body: unknown): Promise<Response> {
  return call("/v1/push/subscriptions", { method: "POST", headers: bearer(token, JSON_HEADERS), body: JSON.stringify(body) });
}

describe("push routes", () => {
  it("want a user token", async () => {
    expect((await call("/v1/push/key")).status).toBe(401);
    const res = await call("/v1/push/subscriptions", { method: "POST", headers: JSON_HEADERS, body: "{}" });
    expect(res.status).toBe(401);
  });

  it("answer 404 with a reason on an edge without VAPID keys", async () => {
    const token = await userToken({ sub: unique("u") });
    const key = await call("/v1/push/key", { headers: bearer(token) });
    expect(key.status).toBe(404);
    expect(((await key.json()) as any).error.message).toMatch(/VAPID_PUBLIC_KEY/);
    const sub = await subscribe(token, { endpoint: "https://push.example.net/s/1", keys: KEYS });
    expect(sub.status).toBe(404);
  });

  it("refuse an endpoint that is neither https nor http to a loopback host", async () => {
    const token = await userToken({ sub: unique("u") });
    for (const endpoint of ["http://push.example.net/s/1", "ftp://127.0.0.1/s", "not a url", "https://user:pw@push.example.net/s"]) {
      const res = await subscribe(token, { endpoint, keys: KEYS });
      expect(res.status, endpoint).toBe(400);
      expect(((await res.json()) as any).error.code).toBe("invalid_body");
    }
  });

  it("refuse keys that are not a P-256 point and a 16-byte secret", async () => {
    const token = await userToken({ sub: unique("u") });
    const endpoint = "http://127.0.0.1:9/s/1";
    for (const keys of [{ ...KEYS, p256dh: "short" }, { ...KEYS, auth: "AAAA" }, { p256dh: KEYS.p256dh }]) {
      const res = await subscribe(token, { endpoint, keys });
      expect(res.status).toBe(400);
    }
  });

  it("refuse a delete without an endpoint", async () => {
    const token = await userToken({ sub: unique("u") });
    const res = await call("/v1/push/subscriptions", { method: "DELETE", headers: bearer(token, JSON_HEADERS), body: JSON.stringify({}) });
    expect(res.status).toBe(400);
  });
});
