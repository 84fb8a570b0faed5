import { readFileSync, statSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configPath } from "../config.ts";
import { FakeEdge } from "../testing/fake-edge.ts";
import { registerRunner } from "./register.ts";
import { testDir } from "../testing/temp-dir.ts";

let edge: FakeEdge;
let edgeURL: string;
beforeEach(async () => {
  edge = new FakeEdge();
  edgeURL = await edge.listen();
});
afterEach(() => edge.close());

describe("registerRunner", () => {
  it("stores the credential and runner ID in config.json with mode 0600", async () => {
    const home = testDir("tether-reg-");
    const r = await registerRunner({ home, edgeURL, token: "reg-ok", name: "vps", labels: ["gpu"], capacity: 3 });
    expect(r).toEqual({ ok: true, value: { runnerID: "r1", path: configPath(home) } });
    expect(edge.registrations).toEqual([{ token: "reg-ok", name: "vps", labels: ["gpu"], capacity: 3 }]);
    expect(statSync(configPath(home)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(configPath(home), "utf8"))).toEqual({ edgeURL, credential: edge.credential, runnerID: "r1", name: "vps", labels: ["gpu"], capacity: 3 });
  });

  it("says why when the edge refuses, and writes nothing", async () => {
    const home = testDir("tether-reg-");
    const r = await registerRunner({ home, edgeURL, token: "expired" });
    expect(r).toEqual({ ok: false, error: "the edge refused the registration (HTTP 401): unauthorized: bad registration token" });
    expect(() => statSync(configPath(home))).toThrow();
  });

  it("checks its input before sending and reports an unreachable edge", async () => {
    const home = testDir("tether-reg-");
    const bad = await registerRunner({ home, edgeURL, token: "reg-ok", capacity: 0 });
    expect(bad.ok).toBe(false);
    expect(edge.registrations).toHaveLength(0);
    const port = new URL(edgeURL).port;
    await edge.close();
    edge = new FakeEdge();
    const down = await registerRunner({ home, edgeURL: `http://127.0.0.1:${port}`, token: "reg-ok" });
    expect(!down.ok && down.error).toContain("could not reach the edge");
  });
});
