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

describe("credentials", () => {
  it("round-trips registration tokens and runner credentials, accounts with any characters included", () => {
    for (const accountID of ["alice", "org/with slashes.and:colons", "ünïcödé ✓"]) {
      const secret = newSecret();
      expect(parseRegistrationToken(formatRegistrationToken({ accountID, secret }))).toEqual({ accountID, secret });
      const runnerID = newRunnerID();
      expect(parseRunnerCredential(formatRunnerCredential({ accountID, runnerID, secret }))).toEqual({ accountID, runnerID, secret });
    }
  });

  it("refuses malformed strings and never mistakes one kind for the other", () => {
    const secret = newSecret();
    const reg = formatRegistrationToken({ accountID: "a", secret });
    const cred = formatRunnerCredential({ accountID: "a", runnerID: newRunnerID(), secret });
    expect(parseRunnerCredential(reg)).toBeNull();
    expect(parseRegistrationToken(cred)).toBeNull();
    for (const bad of ["", "trc_", "trc_YQ.rnr_0123456789abcdef", "trc_YQ.rnr_xyz.abc", `trc_!!.rnr_0123456789abcdef.${secret}`, `trr_YQ.${secret}x`, `trr_.${secret}`, "eyJhbGciOiJIUzI1NiJ9.e30.x"]) {
      expect(parseRunnerCredential(bad), bad).toBeNull();
      expect(parseRegistrationToken(bad), bad).toBeNull();
    }
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
