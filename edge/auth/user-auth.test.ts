import { SignJWT, exportJWK, generateKeyPair, type JWK } from "jose";
import { BEARER_SUBPROTOCOL_PREFIX, CloseCode, SUBPROTOCOL } from "../../shared/index.ts";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SECRET, bearer, call, connectRunner, createTask, openSocket, registerRunner, unique, userToken } from "../testing/edge.ts";

const hs = (claims: Record<string, unknown>, secret = SECRET, alg = "HS256") =>
  new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
const now = () => Math.floor(Date.now() / 1000);

async function status(token: string, vars: Partial<Env> = {}): Promise<number> {
  return (await call("/v1/tasks", { headers: bearer(token) }, vars)).status;
}

describe("HS256 user tokens", () => {
  it("accepts a good token and answers 401 with a JSON error to each bad one", async () => {
    const sub = unique("u");
    expect(await status(await userToken({ sub }))).toBe(200);
    expect(await status(await hs({ sub, exp: now() - 60 }))).toBe(401);
    expect(await status(await hs({ sub, exp: now() + 600, nbf: now() + 300 }))).toBe(401);
    expect(await status(await hs({ sub, exp: now() + 600 }, "another-secret-of-enough-length-123456"))).toBe(401);
    expect(await status(await hs({ sub, exp: now() + 600 }, SECRET, "HS384"))).toBe(401);
    expect(await status(await hs({ sub }))).toBe(401);
    expect(await status(await hs({ exp: now() + 600 }))).toBe(401);
    expect(await status(await hs({ sub, exp: now() + 600, org: 42 }))).toBe(401);
    const res = await call("/v1/tasks", { headers: bearer(await hs({ sub, exp: now() - 60 })) });
    expect(await res.json()).toEqual({ error: { code: "unauthorized", message: "token has expired" } });
  });

  it("refuses alg none, garbage, a missing header and a tampered payload", async () => {
    const sub = unique("u");
    const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    expect(await status(`${b64({ alg: "none", typ: "JWT" })}.${b64({ sub, exp: now() + 600 })}.`)).toBe(401);
    expect(await status("not-a-jwt")).toBe(401);
    expect((await call("/v1/tasks")).status).toBe(401);
    expect((await call("/v1/tasks", { headers: { authorization: "Basic abc" } })).status).toBe(401);
    const good = await userToken({ sub });
    const [h, , s] = good.split(".");
    expect(await status(`${h}.${b64({ sub: "mallory", exp: now() + 600 })}.${s}`)).toBe(401);
  });

  it("checks issuer and audience when they are configured", async () => {
    const sub = unique("u");
    const vars = { AUTH_ISSUER: "https://issuer.test/", AUTH_AUDIENCE: "tether" };
    expect(await status(await hs({ sub, exp: now() + 600, iss: "https://issuer.test/", aud: "tether" }), vars)).toBe(200);
    expect(await status(await hs({ sub, exp: now() + 600, iss: "https://evil.test/", aud: "tether" }), vars)).toBe(401);
    expect(await status(await hs({ sub, exp: now() + 600, iss: "https://issuer.test/", aud: "other" }), vars)).toBe(401);
    expect(await status(await hs({ sub, exp: now() + 600 }), vars)).toBe(401);
  });

  it("JWT clock tolerance of 5 s (just inside and just outside)", async () => {
    const sub = unique("u");
    // Expired 3 s ago, or valid from 3 s ahead: inside the tolerance (2 s to spare for the test's own time).
    expect(await status(await hs({ sub, exp: now() - 3 }))).toBe(200);
    expect(await status(await hs({ sub, exp: now() + 600, nbf: now() + 3 }))).toBe(200);
    // Expired 7 s ago, or valid from 7 s ahead: outside it.
    expect(await status(await hs({ sub, exp: now() - 7 }))).toBe(401);
    expect(await status(await hs({ sub, exp: now() + 600, nbf: now() + 7 }))).toBe(401);
  });

  it("refuses HS256 when no AUTH_SECRET is set", async () => {
    expect(await status(await userToken({ sub: unique("u") }), { AUTH_SECRET: undefined })).toBe(401);
  });
});

describe("JWKS user tokens (RS256 and ES256)", () => {
  afterEach(() => vi.restoreAllMocks());

  async function serveKeys(url: string, keys: JWK[]): Promise<{ calls: () => number }> {
    let calls = 0;
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const href = input instanceof Request ? input.url : String(input);
      if (href !== url) return real(input, init);
      calls += 1;
      return Response.json({ keys });
    });
    return { calls: () => calls };
  }

  it("verifies tokens signed by keys the JWKS serves, with issuer and audience", async () => {
    const url = `https://idp.test/${unique("jwks")}.json`;
    const rsa = await generateKeyPair("RS256", { extractable: true });
    const ec = await generateKeyPair("ES256", { extractable: true });
    const stranger = await generateKeyPair("RS256", { extractable: true });
    const served = await serveKeys(url, [
      { ...(await exportJWK(rsa.publicKey)), kid: "r1", alg: "RS256", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: "e1", alg: "ES256", use: "sig" },
    ]);
    const vars = { AUTH_SECRET: undefined, AUTH_JWKS_URL: url, AUTH_ISSUER: "https://idp.test/", AUTH_AUDIENCE: "tether" };
    const sign = (key: CryptoKey, alg: string, kid: string, claims: Record<string, unknown> = {}) =>
      new SignJWT({ sub: "oidc-user", iss: "https://idp.test/", aud: "tether", exp: now() + 600, ...claims })
        .setProtectedHeader({ alg, kid })
        .sign(key);

    expect(await status(await sign(rsa.privateKey, "RS256", "r1"), vars)).toBe(200);
    expect(await status(await sign(ec.privateKey, "ES256", "e1"), vars)).toBe(200);
    expect(served.calls()).toBeGreaterThanOrEqual(1);
    expect(await status(await sign(stranger.privateKey, "RS256", "r1"), vars)).toBe(401);
    expect(await status(await sign(rsa.privateKey, "RS256", "r1", { aud: "someone-else" }), vars)).toBe(401);
    expect(await status(await sign(rsa.privateKey, "RS256", "r1", { iss: "https://evil.test/" }), vars)).toBe(401);
    expect(await status(await sign(rsa.privateKey, "RS256", "r1", { exp: now() - 60 }), vars)).toBe(401);
    // An HS256 token is refused when only JWKS keys are configured (no algorithm confusion).
    expect(await status(await userToken({ sub: "oidc-user" }), vars)).toBe(401);
    // JWKS without issuer and audience is refused outright.
    expect(await status(await sign(rsa.privateKey, "RS256", "r1"), { ...vars, AUTH_ISSUER: "", AUTH_AUDIENCE: "" })).toBe(401);
  });

  it("refuses RS256 tokens when no JWKS URL is configured", async () => {
    const rsa = await generateKeyPair("RS256");
    const token = await new SignJWT({ sub: "x" }).setProtectedHeader({ alg: "RS256" }).setExpirationTime("10m").sign(rsa.privateKey);
    expect(await status(token)).toBe(401);
  });
});

describe("credential kinds and accounts", () => {
  it("never lets a runner credential act as a user, nor a user token as a runner", async () => {
    const user = await userToken({ sub: unique("u") });
    const runner = await registerRunner(user);
    expect((await call("/v1/tasks", { headers: bearer(runner.credential) })).status).toBe(401);
    expect((await call("/v1/runners", { headers: bearer(runner.credential) })).status).toBe(401);
    const res = await call("/v1/runner/connect", { headers: bearer(user, { upgrade: "websocket" }) });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe("unauthorized");
  });

  it("puts users of one org in one account and keeps other accounts out (404)", async () => {
    const org = unique("org");
    const alice = await userToken({ sub: "alice", org });
    const bob = await userToken({ sub: "bob", org });
    const mallory = await userToken({ sub: "mallory" });
    const task = await createTask(alice);
    expect(task.createdBy).toBe("alice");
    expect((await call(`/v1/tasks/${task.id}`, { headers: bearer(bob) })).status).toBe(200);
    expect((await call(`/v1/tasks/${task.id}`, { headers: bearer(mallory) })).status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}/events`, { headers: bearer(mallory) })).status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}/cancel`, { method: "POST", headers: bearer(mallory) })).status).toBe(404);
    const socket = await call(`/v1/tasks/${task.id}/ws`, { headers: { upgrade: "websocket", "sec-websocket-protocol": `${SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}${mallory}` } });
    expect(socket.status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}/messages`, { method: "POST", headers: bearer(mallory), body: JSON.stringify({ text: "hi" }) })).status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(mallory) })).status).toBe(404);
    const list = (await (await call("/v1/tasks", { headers: bearer(mallory) })).json()) as any;
    expect(list.tasks.map((t: any) => t.id)).not.toContain(task.id);
  });

  it("A user whose sub equals an org's name does not land in that org", async () => {
    const org = unique("acme");
    const member = await userToken({ sub: "alice", org });
    const impostor = await userToken({ sub: org });
    const task = await createTask(member);
    expect((await call(`/v1/tasks/${task.id}`, { headers: bearer(impostor) })).status).toBe(404);
    const list = (await (await call("/v1/tasks", { headers: bearer(impostor) })).json()) as any;
    expect(list.tasks).toEqual([]);
    const theirs = await createTask(impostor);
    expect((await call(`/v1/tasks/${theirs.id}`, { headers: bearer(member) })).status).toBe(404);
  });

  it("Another account's `/finish` is a 404", async () => {
    const owner = await userToken({ sub: unique("owner") });
    const mallory = await userToken({ sub: unique("mallory") });
    const runner = await registerRunner(owner);
    const control = await connectRunner(runner.credential);
    const task = await createTask(owner);
    const { assignment } = await control.next("assign");
    control.send({ type: "accept", taskID: task.id, epoch: assignment.epoch });
    const data = await openSocket(`/v1/runner/tasks/${task.id}/ws`, bearer(runner.credential));
    data.send({ type: "attach", taskID: task.id, epoch: assignment.epoch, afterCommandSeq: 0 });
    await data.next("attached");
    const finish = (token: string) => call(`/v1/tasks/${task.id}/finish`, { method: "POST", headers: bearer(token) });

    // The task has started, so a finish is one it takes; from another account it does not exist.
    const foreign = await finish(mallory);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toEqual({ error: { code: "not_found", message: "no such task" } });
    const events = async () => ((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(owner) })).json()) as any).events.map((e: any) => e.type);
    expect(await events()).not.toContain("user.finish");
    // The owner's finish is taken and reaches the runner.
    expect((await finish(owner)).status).toBe(202);
    expect((await data.next("command")).command).toMatchObject({ kind: "finish" });
    expect((await events()).filter((t: string) => t === "user.finish")).toHaveLength(1);
    data.close();
    control.close();
  });

  it("takes a browser's token from the bearer subprotocol and selects the protocol", async () => {
    const user = await userToken({ sub: unique("u") });
    const task = await createTask(user);
    const res = await call(`/v1/tasks/${task.id}/ws?after=0`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `${SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}${user}` },
    });
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe(SUBPROTOCOL);
    res.webSocket!.accept();
    res.webSocket!.close(CloseCode.Normal, "done");
    const forged = await call(`/v1/tasks/${task.id}/ws`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `${SUBPROTOCOL}, ${BEARER_SUBPROTOCOL_PREFIX}${user}x` },
    });
    expect(forged.status).toBe(401);
    const noProtocol = await call(`/v1/tasks/${task.id}/ws`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `chat, bearer.${user}` },
    });
    expect(noProtocol.status).toBe(400);
  });
});
