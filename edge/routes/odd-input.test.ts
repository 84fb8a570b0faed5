import { describe, expect, it } from "vitest";
import { CloseCode } from "../../shared/index.ts";
import { JSON_HEADERS, bearer, call, createTask, registerRunner, unique, userToken } from "../testing/edge.ts";

describe("odd input never yields a 5xx", () => {
  it("answers malformed paths, queries, headers and bodies with JSON and never a 5xx", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user);
    const task = await createTask(user);
    const cases: [string, RequestInit][] = [
      ["/v1/tasks/%ZZ", { headers: bearer(user) }],
      ["/v1/tasks?q=%ZZ", { headers: bearer(user) }],
      ["/v1/tasks?limit=1e400", { headers: bearer(user) }],
      [`/v1/tasks/${task.id}/events?after=99999999999999999999`, { headers: bearer(user) }],
      [`/v1/tasks/${task.id}/artifacts/%E0%A4%A`, { headers: bearer(user) }],
      ["/v1/runners/%ZZ", { method: "DELETE", headers: bearer(user) }],
      ["/v1/tasks", { method: "POST", headers: bearer(user, JSON_HEADERS), body: "\u0000\uFFFF" }],
      ["/v1/tasks", { method: "POST", headers: bearer(user, JSON_HEADERS), body: "null" }],
      ["/v1/tasks", { method: "POST", headers: bearer(user, JSON_HEADERS), body: JSON.stringify({ repo: { url: "/r" }, prompt: "p", labels: Array(1000).fill("x") }) }],
      ["/v1/tasks", { method: "POST", headers: bearer(user, JSON_HEADERS), body: "[".repeat(100_000) }],
      ["/v1/tasks", { method: "PUT", headers: bearer(user) }],
      ["/v1/tasks", { headers: { authorization: "Bearer " + "a".repeat(8000) } }],
      ["/v1/tasks", { headers: { authorization: "Bearer a.b.c" } }],
      ["/v1/tasks", { headers: { authorization: `Bearer ${user} extra` } }],
      ["/v1/runner/connect", { headers: { authorization: "Bearer trc_" + "A".repeat(5000) + ".rnr_0123456789abcdef." + "a".repeat(43), upgrade: "websocket" } }],
      [`/v1/runner/tasks/${task.id}/artifacts/x?epoch=abc`, { method: "PUT", headers: bearer(runner.credential), body: "x" }],
      [`/v1/runner/tasks/${task.id}/artifacts/x`, { method: "PUT", headers: bearer(runner.credential), body: "x" }],
      ["/v1/runners/register", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ token: "trr_" + "%".repeat(100) }) }],
    ];
    for (const [path, init] of cases) {
      const res = await call(path, init);
      const label = `${init.method ?? "GET"} ${path.slice(0, 80)}`;
      expect(res.status, label).toBeLessThan(500);
      const text = await res.text();
      let body: any;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`${label}: ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
      }
      // A search for a literal "%ZZ" is a fine question; everything else here is refused.
      if (path !== "/v1/tasks?q=%ZZ") expect(typeof body.error?.code, label).toBe("string");
    }
    // A blank subprotocol offer is no offer: the socket opens and selects none.
    const blank = await call(`/v1/tasks/${task.id}/ws`, { headers: bearer(user, { upgrade: "websocket", "sec-websocket-protocol": ",,, ," }) });
    expect(blank.status).toBe(101);
    expect(blank.headers.get("sec-websocket-protocol")).toBeNull();
    blank.webSocket!.accept();
    blank.webSocket!.close(CloseCode.Normal, "done");
  });
});
