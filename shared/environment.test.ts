import { describe, expect, it } from "vitest";
import { type Environment, EnvironmentRequest, environmentFor, matchesRepository } from "./environment.ts";

const env = (id: string, repository: string, createdAt = "2026-01-01T00:00:00.000Z"): Environment => ({
  id,
  name: id,
  repository,
  network: { setup: [], agent: [] },
  variables: {},
  createdAt,
  updatedAt: createdAt,
});

describe("saved environments", () => {
  it("accepts a full request and fills the defaults of a minimal one", () => {
    const full = EnvironmentRequest.parse({
      name: "node",
      repository: "https://git.test/acme/*",
      setup: "npm ci",
      network: { setup: ["mirror.test"], agent: ["*.api.test:8443"] },
      variables: { NODE_ENV: "test", CI: "1" },
    });
    expect(full.network.agent).toEqual(["*.api.test:8443"]);
    expect(EnvironmentRequest.parse({ name: "n", repository: "https://git.test/" })).toEqual({ name: "n", repository: "https://git.test/", network: { setup: [], agent: [] }, variables: {} });
  });

  it("refuses variables whose names look secret, names the runner sets, bad hosts and unknown fields", () => {
    for (const name of ["GITHUB_TOKEN", "api_key", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "HTTPS_PROXY", "TETHER_X", "1ABC"]) {
      expect(EnvironmentRequest.safeParse({ name: "n", repository: "r", variables: { [name]: "x" } }).success, name).toBe(false);
    }
    expect(EnvironmentRequest.safeParse({ name: "n", repository: "r", network: { setup: ["http://x.test/"] } }).success).toBe(false);
    expect(EnvironmentRequest.safeParse({ name: "n", repository: "r", extra: 1 }).success).toBe(false);
    expect(EnvironmentRequest.safeParse({ name: "", repository: "r" }).success).toBe(false);
  });

  it("takes an image reference and refuses what is not one", () => {
    for (const image of ["tether-worker:envs-alt", "node", "registry.test:5000/team/node:22", "ghcr.io/acme/app@sha256:" + "a".repeat(64), "a/b_c/d__e-f:v1.2"]) {
      expect(EnvironmentRequest.safeParse({ name: "n", repository: "r", image }).success, image).toBe(true);
    }
    for (const image of ["", "Node:22", "node:", "node:-x", "http://registry.test/node", "node 22", "-node", "node:22@sha256:zz", "a//b"]) {
      expect(EnvironmentRequest.safeParse({ name: "n", repository: "r", image }).success, image).toBe(false);
    }
  });

  it("matches a prefix, or a glob when the pattern holds *", () => {
    expect(matchesRepository("https://git.test/acme/", "https://git.test/acme/app.git")).toBe(true);
    expect(matchesRepository("https://git.test/acme/", "https://git.test/other/app.git")).toBe(false);
    expect(matchesRepository("*/acme/*.git", "https://git.test/acme/app.git")).toBe(true);
    expect(matchesRepository("*/acme/*.git", "https://git.test/acme/app")).toBe(false);
    expect(matchesRepository("https://git.test/a.c*", "https://git.test/abc/x")).toBe(false);
  });

  it("picks the longest matching pattern, then the oldest", () => {
    const all = [env("broad", "https://git.test/"), env("narrow", "https://git.test/acme/"), env("twin", "https://git.test/acme/", "2027-01-01T00:00:00.000Z")];
    expect(environmentFor(all, "https://git.test/acme/app.git")?.id).toBe("narrow");
    expect(environmentFor(all, "https://git.test/zeta.git")?.id).toBe("broad");
    expect(environmentFor(all, "/srv/repo")).toBeUndefined();
  });
});
