import { runInDurableObject } from "cloudflare:test";
import { CloseCode, HEARTBEAT_SECONDS, LEASE_SECONDS } from "../../shared/index.ts";
import { describe, expect, it } from "vitest";
import { userAccountID } from "../auth/index.ts";
import { JSON_HEADERS, accountStub, bearer, call, connectRunner, createTask, registerRunner, unique, userToken } from "../testing/edge.ts";

async function newRegistrationToken(token: string): Promise<{ token: string; expiresAt: string }> {
  const res = await call("/v1/runners/registration-tokens", { method: "POST", headers: bearer(token) });
  expect(res.status).toBe(201);
  return (await res.json()) as { token: string; expiresAt: string };
}

async function register(body: unknown): Promise<Response> {
  return call("/v1/runners/register", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify(body) });
}

describe("runner registration", () => {
  it("exchanges a registration token once for a credential", async () => {
    const user = await userToken({ sub: unique("u") });
    const made = await newRegistrationToken(user);
    expect(made.token).toMatch(/^trr_/);
    const ttl = Date.parse(made.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(55 * 60_000);
    expect(ttl).toBeLessThanOrEqual(60 * 60_000);

    const res = await register({ token: made.token, name: "laptop", labels: ["linux", "gpu"], capacity: 3 });
    expect(res.status).toBe(201);
    const body = (await res.json()) as any;
    expect(body.runner.id).toMatch(/^rnr_[0-9a-f]{16}$/);
    expect(body.credential).toMatch(/^trc_/);

    const again = await register({ token: made.token });
    expect(again.status).toBe(401);
    expect(((await again.json()) as any).error.message).toMatch(/already used/);

    const list = (await (await call("/v1/runners", { headers: bearer(user) })).json()) as any;
    expect(list.runners).toEqual([
      expect.objectContaining({ id: body.runner.id, name: "laptop", labels: ["linux", "gpu"], capacity: 3, online: false, lastSeenAt: null, runningTasks: [] }),
    ]);
  });

  it("refuses an expired token", async () => {
    const accountID = unique("u");
    const user = await userToken({ sub: accountID });
    const made = await newRegistrationToken(user);
    // An hour passes: the stored expiry is moved into the past.
    await runInDurableObject(accountStub(userAccountID(accountID)), (_instance, state) => {
      state.storage.sql.exec("UPDATE registration_tokens SET expires_at = ?", Date.now() - 1);
    });
    const res = await register({ token: made.token });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.message).toMatch(/expired/);
  });

  it("refuses malformed tokens and bodies and registers nothing", async () => {
    const accountID = unique("u");
    const user = await userToken({ sub: accountID });
    const made = await newRegistrationToken(user);
    expect((await register({ token: "trr_bogus" })).status).toBe(401);
    expect((await register({ token: made.token.slice(0, -2) + "AA" })).status).toBe(401);
    expect((await register({ token: user })).status).toBe(401);
    expect((await register({ token: made.token, capacity: 0 })).status).toBe(400);
    expect((await register({ token: made.token, labels: ["bad label"] })).status).toBe(400);
    expect((await register({ token: made.token, extra: 1 })).status).toBe(400);
    expect((await call("/v1/runners/register", { method: "POST", headers: JSON_HEADERS, body: "{" })).status).toBe(400);
    const list = (await (await call("/v1/runners", { headers: bearer(user) })).json()) as any;
    expect(list.runners).toEqual([]);
    // The malformed attempts did not use the token up.
    expect((await register({ token: made.token })).status).toBe(201);
  });

  it("needs a user token to make registration tokens", async () => {
    expect((await call("/v1/runners/registration-tokens", { method: "POST" })).status).toBe(401);
  });
});

describe("runner registry", () => {
  it("shows a connected runner online with what it said in hello", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user, { labels: ["a"] });
    const control = await connectRunner(runner.credential, { labels: ["linux", "docker"], capacity: 4 });
    expect(control.frames[0]).toEqual({ type: "welcome", runnerID: runner.id, heartbeatSeconds: HEARTBEAT_SECONDS, leaseSeconds: LEASE_SECONDS });
    const list = (await (await call("/v1/runners", { headers: bearer(user) })).json()) as any;
    expect(list.runners[0]).toMatchObject({ id: runner.id, online: true, labels: ["linux", "docker"], capacity: 4, version: "test" });
    expect(list.runners[0].lastSeenAt).not.toBeNull();
    control.close();
  });

  it("answers bad control frames with error frames and keeps the socket", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user);
    const control = await connectRunner(runner.credential);
    control.send("not json");
    control.send({ type: "hello", version: "x", labels: ["bad label"], capacity: 1, tasks: [] });
    control.send({ type: "attach", taskID: "tsk_00000000000000000000", epoch: 1, afterCommandSeq: 0 });
    control.send({ v: 9, type: "heartbeat", tasks: [] });
    await control.until((f) => f.filter((x) => x.type === "error").length === 4);
    expect(control.frames.filter((x) => x.type === "error").map((x) => x.code).sort()).toEqual(["invalid_frame", "invalid_frame", "invalid_frame", "unsupported_version"]);
    control.send({ type: "ping" });
    await control.next("pong");
    const list = (await (await call("/v1/runners", { headers: bearer(user) })).json()) as any;
    expect(list.runners[0].labels).toEqual([]);
    control.close();
  });

  it("deletes a runner: 204, its credential fails at once, its control socket closes as revoked", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user);
    const control = await connectRunner(runner.credential);
    const other = await userToken({ sub: unique("u") });
    expect((await call(`/v1/runners/${runner.id}`, { method: "DELETE", headers: bearer(other) })).status).toBe(404);
    expect((await call(`/v1/runners/not-an-id`, { method: "DELETE", headers: bearer(user) })).status).toBe(404);

    const res = await call(`/v1/runners/${runner.id}`, { method: "DELETE", headers: bearer(user) });
    expect(res.status).toBe(204);
    expect((await control.waitClosed()).code).toBe(CloseCode.Revoked);
    const connect = await call("/v1/runner/connect", { headers: bearer(runner.credential, { upgrade: "websocket" }) });
    expect(connect.status).toBe(401);
    expect((await call(`/v1/runners/${runner.id}`, { method: "DELETE", headers: bearer(user) })).status).toBe(404);
    const list = (await (await call("/v1/runners", { headers: bearer(user) })).json()) as any;
    expect(list.runners).toEqual([]);
  });

  it("drains a runner: it keeps its task, gets no new one, and takes tasks again when undrained", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user);
    const control = await connectRunner(runner.credential, { capacity: 4 });
    const held = await createTask(user);
    expect((await control.next("assign")).assignment.task.id).toBe(held.id);
    const other = await userToken({ sub: unique("u") });
    expect((await call(`/v1/runners/${runner.id}/drain`, { method: "POST", headers: bearer(other) })).status).toBe(404);
    expect((await call("/v1/runners/not-an-id/drain", { method: "POST", headers: bearer(user) })).status).toBe(404);
    expect((await call(`/v1/runners/${runner.id}/drain`, { method: "POST" })).status).toBe(401);

    expect((await call(`/v1/runners/${runner.id}/drain`, { method: "POST", headers: bearer(user) })).status).toBe(204);
    const listed = ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners[0];
    expect(listed).toMatchObject({ id: runner.id, online: true, draining: true, runningTasks: [held.id] });
    const queued = await createTask(user);
    await control.fence();
    expect(control.count("assign")).toBe(1);
    expect((((await (await call(`/v1/tasks/${queued.id}`, { headers: bearer(user) })).json()) as any).task.status)).toBe("queued");
    expect(control.frames.filter((f) => f.type === "revoke")).toEqual([]);

    expect((await call(`/v1/runners/${runner.id}/drain`, { method: "DELETE", headers: bearer(user) })).status).toBe(204);
    await control.until((frames) => frames.filter((f) => f.type === "assign").length === 2);
    expect(control.frames.filter((f) => f.type === "assign")[1].assignment.task.id).toBe(queued.id);
    const after = ((await (await call("/v1/runners", { headers: bearer(user) })).json()) as any).runners[0];
    expect(after.draining).toBe(false);
    control.close();
  });

  it("refuses a tampered credential and a plain GET on the control route", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user);
    const tampered = runner.credential.slice(0, -3) + (runner.credential.endsWith("A") ? "BBB" : "AAA");
    expect((await call("/v1/runner/connect", { headers: bearer(tampered, { upgrade: "websocket" }) })).status).toBe(401);
    expect((await call("/v1/runner/connect", { headers: bearer(runner.credential) })).status).toBe(426);
  });
});
