/**
 * Attack: call registration and runner connect with tokens that name a made-up account, so
 * the edge creates an Account object (and its tables) for every name tried. The account
 * part is MAC'd by the edge, so such a call is a 401 before any Account object is named.
 */
import { env, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { JSON_HEADERS, bearer, call, registerRunner, unique, userToken } from "../testing/edge.ts";

const b64 = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const SECRET = "A".repeat(43);
const MAC = "B".repeat(43);

async function accountExists(accountID: string): Promise<boolean> {
  const wanted = env.ACCOUNT.idFromName(accountID);
  return (await listDurableObjectIds(env.ACCOUNT)).some((id) => id.equals(wanted));
}

describe("tokens naming a made-up account", () => {
  it("A made-up account's registration is a 401 and creates no Account object", async () => {
    const madeUp = unique("user:nobody");
    for (const token of [`trr_${b64(madeUp)}.${SECRET}`, `trr_${b64(madeUp)}.${MAC}.${SECRET}`]) {
      const res = await call("/v1/runners/register", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ token }) });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.code).toBe("unauthorized");
    }
    expect(await accountExists(madeUp)).toBe(false);
  });

  it("A made-up account's runner connect is a 401 and creates no Account object", async () => {
    const madeUp = unique("user:nobody");
    for (const credential of [`trc_${b64(madeUp)}.rnr_0123456789abcdef.${SECRET}`, `trc_${b64(madeUp)}.${MAC}.rnr_0123456789abcdef.${SECRET}`]) {
      const res = await call("/v1/runner/connect", { headers: bearer(credential, { upgrade: "websocket" }) });
      expect(res.status).toBe(401);
    }
    expect(await accountExists(madeUp)).toBe(false);
  });

  it("A real runner credential with its account swapped for another is a 401", async () => {
    const user = await userToken({ sub: unique("owner") });
    const { credential } = await registerRunner(user);
    const [, mac, runnerID, secret] = credential.slice(4).split(".");
    const victim = `user:${unique("victim")}`;
    const swapped = `trc_${b64(victim)}.${mac}.${runnerID}.${secret}`;
    expect((await call("/v1/runner/connect", { headers: bearer(swapped, { upgrade: "websocket" }) })).status).toBe(401);
    expect(await accountExists(victim)).toBe(false);
  });
});
