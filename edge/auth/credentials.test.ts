import { describe, expect, it } from "vitest";
import {
  formatRegistrationToken,
  formatRunnerCredential,
  isTaskID,
  newRunnerID,
  newSecret,
  newTaskID,
  parseRegistrationToken,
  parseRunnerCredential,
  sha256Hex,
} from "./credentials.ts";

const KEYS = { AUTH_SECRET: "a-secret-of-the-edge-of-enough-length-1234" };

describe("credentials", () => {
  it("round-trips registration tokens and runner credentials, accounts with any characters included", async () => {
    for (const accountID of ["alice", "org/with slashes.and:colons", "ünïcödé ✓"]) {
      const secret = newSecret();
      expect(await parseRegistrationToken(KEYS, await formatRegistrationToken(KEYS, { accountID, secret }))).toEqual({ accountID, secret });
      const runnerID = newRunnerID();
      expect(await parseRunnerCredential(KEYS, await formatRunnerCredential(KEYS, { accountID, runnerID, secret }))).toEqual({ accountID, runnerID, secret });
    }
  });

  it("refuses malformed strings and never mistakes one kind for the other", async () => {
    const secret = newSecret();
    const reg = await formatRegistrationToken(KEYS, { accountID: "a", secret });
    const cred = await formatRunnerCredential(KEYS, { accountID: "a", runnerID: newRunnerID(), secret });
    expect(await parseRunnerCredential(KEYS, reg)).toBeNull();
    expect(await parseRegistrationToken(KEYS, cred)).toBeNull();
    const mac = "A".repeat(43);
    for (const bad of ["", "trc_", "trc_YQ.rnr_0123456789abcdef", "trc_YQ.rnr_xyz.abc", `trc_!!.${mac}.rnr_0123456789abcdef.${secret}`, `trr_YQ.${mac}.${secret}x`, `trr_.${mac}.${secret}`, "eyJhbGciOiJIUzI1NiJ9.e30.x"]) {
      expect(await parseRunnerCredential(KEYS, bad), bad).toBeNull();
      expect(await parseRegistrationToken(KEYS, bad), bad).toBeNull();
    }
  });

  it("A credential for a made-up or swapped account fails its MAC", async () => {
    const secret = newSecret();
    const runnerID = newRunnerID();
    const reg = await formatRegistrationToken(KEYS, { accountID: "user:alice", secret });
    const cred = await formatRunnerCredential(KEYS, { accountID: "user:alice", runnerID, secret });
    const swap = (token: string) => token.replace(btoa("user:alice").replace(/=+$/, ""), btoa("user:bobby").replace(/=+$/, ""));
    expect(await parseRegistrationToken(KEYS, swap(reg))).toBeNull();
    expect(await parseRunnerCredential(KEYS, swap(cred))).toBeNull();
    const otherEdge = { AUTH_SECRET: "another-edge-secret-of-enough-length-5678" };
    expect(await parseRegistrationToken(otherEdge, reg)).toBeNull();
    expect(await parseRunnerCredential(otherEdge, cred)).toBeNull();
    expect(await parseRunnerCredential({ ...otherEdge, CREDENTIAL_SECRET: KEYS.AUTH_SECRET }, cred)).toEqual({ accountID: "user:alice", runnerID, secret });
    expect(await parseRunnerCredential({}, cred)).toBeNull();
  });

  it("makes ids of the agreed shapes and distinct secrets", () => {
    expect(isTaskID(newTaskID())).toBe(true);
    expect(isTaskID("tsk_0123")).toBe(false);
    expect(newRunnerID()).toMatch(/^rnr_[0-9a-f]{16}$/);
    expect(new Set(Array.from({ length: 50 }, newSecret)).size).toBe(50);
  });

  it("hashes with SHA-256", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
