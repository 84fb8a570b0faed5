import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sha256Hex, userAccountID } from "../auth/index.ts";
import { JSON_HEADERS, accountStub, bearer, call, unique, userToken } from "../testing/edge.ts";

async function newRegistrationToken(user: string): Promise<string> {
  const res = await call("/v1/runners/registration-tokens", { method: "POST", headers: bearer(user) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

/** Every row of every table of the Account's SQLite, as text. */
async function allRows(accountID: string): Promise<string> {
  return runInDurableObject(accountStub(accountID), (_i, state) => {
    const tables = state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")
      .toArray()
      .map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(["runners", "registration_tokens"]));
    return tables.map((t) => `${t}: ${JSON.stringify(state.storage.sql.exec(`SELECT * FROM "${t}"`).toArray())}`).join("\n");
  });
}

describe("the registry at rest", () => {
  it("The edge stores only hashes of registration tokens and runner credentials", async () => {
    const accountID = unique("acct");
    const user = await userToken({ sub: accountID });
    const unused = await newRegistrationToken(user);
    const used = await newRegistrationToken(user);
    const res = await call("/v1/runners/register", { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ token: used, name: "box" }) });
    expect(res.status).toBe(201);
    const { credential } = (await res.json()) as { credential: string };

    // The secret is the last dot-separated part of a token (trr_<account>.<secret>) and of a
    // credential (trc_<account>.<runner>.<secret>).
    const secretOf = (text: string) => text.split(".").at(-1)!;
    const [unusedSecret, usedSecret, credentialSecret] = [secretOf(unused), secretOf(used), secretOf(credential)];
    expect(credentialSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = await allRows(userAccountID(accountID));
    // What is stored is the SHA-256 of each live secret …
    expect(rows).toContain(await sha256Hex(unusedSecret));
    expect(rows).toContain(await sha256Hex(credentialSecret));
    // … and neither a secret nor a whole token or credential.
    for (const secret of [unused, used, credential, unusedSecret, usedSecret, credentialSecret]) {
      expect(rows).not.toContain(secret);
    }
    // A used registration token is gone, hash and all.
    expect(rows).not.toContain(await sha256Hex(usedSecret));
  });
});
