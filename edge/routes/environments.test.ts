import { describe, expect, it } from "vitest";
import { JSON_HEADERS, bearer, call, unique, userToken } from "../testing/edge.ts";

const REPO = "https://git.test/acme/app.git";

async function send(token: string, method: string, path: string, body?: unknown): Promise<Response> {
  return call(path, { method, headers: { ...bearer(token), ...JSON_HEADERS }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
}

describe("saved environments", () => {
  it("creates, lists, replaces and deletes an account's environments; another account sees none of them", async () => {
    const user = await userToken({ sub: unique("u") });
    const created = await send(user, "POST", "/v1/environments", { name: "node", repository: "https://git.test/acme/", setup: "npm ci", variables: { NODE_ENV: "test" } });
    expect(created.status).toBe(201);
    const { environment } = (await created.json()) as any;
    expect(environment).toMatchObject({ name: "node", repository: "https://git.test/acme/", setup: "npm ci", network: { setup: [], agent: [] }, variables: { NODE_ENV: "test" } });
    expect(environment.id).toMatch(/^env_[0-9a-f]{16}$/);

    const list = (await (await send(user, "GET", "/v1/environments")).json()) as any;
    expect(list.environments).toEqual([environment]);

    const replaced = await send(user, "PUT", `/v1/environments/${environment.id}`, { name: "node 2", repository: "*/acme/*", network: { agent: ["api.test"] } });
    expect(replaced.status).toBe(200);
    const after = ((await replaced.json()) as any).environment;
    expect(after).toMatchObject({ id: environment.id, name: "node 2", repository: "*/acme/*", network: { setup: [], agent: ["api.test"] }, variables: {}, createdAt: environment.createdAt });
    expect(after.setup).toBeUndefined();

    const other = await userToken({ sub: unique("u") });
    expect(((await (await send(other, "GET", "/v1/environments")).json()) as any).environments).toEqual([]);
    expect((await send(other, "DELETE", `/v1/environments/${environment.id}`)).status).toBe(404);

    expect((await send(user, "DELETE", `/v1/environments/${environment.id}`)).status).toBe(204);
    expect((await send(user, "DELETE", `/v1/environments/${environment.id}`)).status).toBe(404);
    expect(((await (await send(user, "GET", "/v1/environments")).json()) as any).environments).toEqual([]);
  });

  it("refuses secret-looking variable names, bad hosts and bad ids with a 4xx error body", async () => {
    const user = await userToken({ sub: unique("u") });
    for (const body of [
      { name: "n", repository: "r", variables: { GITHUB_TOKEN: "x" } },
      { name: "n", repository: "r", variables: { db_password: "x" } },
      { name: "n", repository: "r", network: { setup: ["not a host"] } },
      { name: "n", repository: "r", image: "Not An Image" },
      { name: "n" },
    ]) {
      const res = await send(user, "POST", "/v1/environments", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as any).error.code).toBe("invalid_body");
    }
    expect((await send(user, "PUT", "/v1/environments/nope", { name: "n", repository: "r" })).status).toBe(404);
    expect(((await (await send(user, "GET", "/v1/environments")).json()) as any).environments).toEqual([]);
  });

  it("copies the matched environment into a new task; a named one wins; an unknown name is refused", async () => {
    const user = await userToken({ sub: unique("u") });
    const make = async (body: unknown) => ((await (await send(user, "POST", "/v1/environments", body)).json()) as any).environment;
    const broad = await make({ name: "broad", repository: "https://git.test/", setup: "make" });
    const narrow = await make({ name: "narrow", repository: "https://git.test/acme/", setup: "npm ci", network: { setup: ["mirror.test"] }, variables: { CI: "1" }, image: "registry.test:5000/node:22" });

    const matched = (await (await send(user, "POST", "/v1/tasks", { repo: { url: REPO }, prompt: "p" })).json()) as any;
    expect(matched.task.environment).toEqual({ id: narrow.id, name: "narrow", setup: "npm ci", network: { setup: ["mirror.test"], agent: [] }, variables: { CI: "1" }, image: "registry.test:5000/node:22" });

    const named = (await (await send(user, "POST", "/v1/tasks", { repo: { url: REPO }, prompt: "p", environment: broad.id })).json()) as any;
    expect(named.task.environment.id).toBe(broad.id);

    const none = (await (await send(user, "POST", "/v1/tasks", { repo: { url: "/srv/repo" }, prompt: "p" })).json()) as any;
    expect(none.task.environment).toBeUndefined();

    const unknown = await send(user, "POST", "/v1/tasks", { repo: { url: REPO }, prompt: "p", environment: "env_0000000000000000" });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as any).error.message).toMatch(/no such environment/);
  });
});
