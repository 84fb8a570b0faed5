import { describe, expect, it } from "vitest";
import type { Task } from "../task.ts";
import { BEARER_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from "../sockets.ts";
import { TetherError } from "./errors.ts";
import { TetherClient } from "./index.ts";

const TASK: Task = {
  id: "t1",
  title: "fix it",
  repo: { url: "https://example.com/r.git" },
  prompt: "fix it",
  model: null,
  labels: [],
  limits: {},
  status: "queued",
  statusReason: null,
  createdBy: "alice",
  createdAt: "2026-11-28T01:00:00.000Z",
  updatedAt: "2026-11-28T01:00:00.000Z",
  runnerID: null,
  lastSeq: 1,
  usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUSD: 0, modelCalls: 0 },
  diff: null,
  branch: null,
};

type Call = { url: string; method: string; headers: Record<string, string>; body: string | undefined };

function fakeFetch(answer: (call: Call) => Response) {
  const calls: Call[] = [];
  const fetch = async (url: string, init?: RequestInit) => {
    const call = {
      url,
      method: init?.method ?? "GET",
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body as string | undefined,
    };
    calls.push(call);
    return answer(call);
  };
  return { calls, fetch };
}

describe("TetherClient", () => {
  it("sends the bearer token and the body, and parses the created task", async () => {
    const f = fakeFetch(() => Response.json({ task: TASK }, { status: 201 }));
    const client = new TetherClient({ baseURL: "http://edge/", token: "tok", fetch: f.fetch });
    const task = await client.createTask({ repo: { url: "https://example.com/r.git" }, prompt: "fix it" });
    expect(task.id).toBe("t1");
    expect(f.calls[0]).toMatchObject({ url: "http://edge/v1/tasks", method: "POST" });
    expect(f.calls[0]!.headers.authorization).toBe("Bearer tok");
    expect(JSON.parse(f.calls[0]!.body!)).toEqual({ repo: { url: "https://example.com/r.git" }, prompt: "fix it" });
  });

  it("calls the environment routes and the egress allowance, parsing what comes back", async () => {
    const env = { id: "env_1", name: "node", repository: "https://git.test/", network: { setup: [], agent: [] }, variables: {}, createdAt: "x", updatedAt: "x" };
    const f = fakeFetch((call) =>
      call.url.endsWith("/egress") || call.method === "DELETE"
        ? new Response(null, { status: call.method === "DELETE" ? 204 : 202 })
        : call.method === "GET"
          ? Response.json({ environments: [env] })
          : Response.json({ environment: env }, { status: call.method === "POST" ? 201 : 200 }),
    );
    const client = new TetherClient({ baseURL: "http://edge", token: "tok", fetch: f.fetch });
    const body = { name: "node", repository: "https://git.test/", network: { setup: [], agent: [] }, variables: {} };
    expect(await client.listEnvironments()).toEqual([env]);
    expect(await client.createEnvironment(body)).toEqual(env);
    expect(await client.updateEnvironment("env_1", body)).toEqual(env);
    await client.deleteEnvironment("env_1");
    await client.allowEgress("t1", "registry.test:8443");
    expect(f.calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "GET http://edge/v1/environments",
      "POST http://edge/v1/environments",
      "PUT http://edge/v1/environments/env_1",
      "DELETE http://edge/v1/environments/env_1",
      "POST http://edge/v1/tasks/t1/egress",
    ]);
    expect(JSON.parse(f.calls[4]!.body!)).toEqual({ host: "registry.test:8443" });
  });

  it("raises a task's limits with PATCH and returns the task as it now stands", async () => {
    const raised = { ...TASK, limits: { maxTurns: 8 } };
    const f = fakeFetch(() => Response.json({ seq: 4, task: raised }));
    const client = new TetherClient({ baseURL: "http://edge", token: "tok", fetch: f.fetch });
    expect(await client.raiseLimits("t1", { maxTurns: 8 })).toEqual(raised);
    expect(f.calls[0]).toMatchObject({ url: "http://edge/v1/tasks/t1/limits", method: "PATCH" });
    expect(JSON.parse(f.calls[0]!.body!)).toEqual({ maxTurns: 8 });
  });

  it("builds list and event queries and reads the token anew for each request", async () => {
    const f = fakeFetch((call) =>
      call.url.includes("/events") ? Response.json({ events: [], nextAfter: 5 }) : Response.json({ tasks: [TASK], nextCursor: null }),
    );
    let token = "a";
    const client = new TetherClient({ baseURL: "http://edge", token: () => token, fetch: f.fetch });
    await client.listTasks({ status: "running", q: "fix bug", limit: 20 });
    token = "b";
    const page = await client.listEvents("t/1", { after: 5, limit: 100 });
    expect(page.nextAfter).toBe(5);
    expect(f.calls[0]!.url).toBe("http://edge/v1/tasks?status=running&q=fix%20bug&limit=20");
    expect(f.calls[1]!.url).toBe("http://edge/v1/tasks/t%2F1/events?after=5&limit=100");
    expect(f.calls[1]!.headers.authorization).toBe("Bearer b");
  });

  it("rejects with the edge's error code and message", async () => {
    const f = fakeFetch(() => Response.json({ error: { code: "invalid_body", message: "prompt: too short" } }, { status: 400 }));
    const client = new TetherClient({ baseURL: "http://edge", token: "tok", fetch: f.fetch });
    const err = await client.sendMessage("t1", "hi").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TetherError);
    expect(err).toMatchObject({ status: 400, code: "invalid_body", message: "prompt: too short", fatal: false });
  });

  it("calls a 404 fatal and a response of the wrong shape invalid_response", async () => {
    const missing = new TetherClient({ baseURL: "http://edge", fetch: fakeFetch(() => new Response("nope", { status: 404 })).fetch });
    await expect(missing.getTask("x")).rejects.toMatchObject({ status: 404, code: "http_404", fatal: true });
    const odd = new TetherClient({ baseURL: "http://edge", fetch: fakeFetch(() => Response.json({ task: { id: 1 } })).fetch });
    await expect(odd.getTask("x")).rejects.toMatchObject({ code: "invalid_response" });
  });

  it("turns a network failure into code network", async () => {
    const client = new TetherClient({
      baseURL: "http://edge",
      fetch: async () => {
        throw new TypeError("fetch failed");
      },
    });
    await expect(client.cancelTask("t1")).rejects.toMatchObject({ status: 0, code: "network" });
  });

  it("reads artifacts as text and streams over ws(s) on the same host", async () => {
    const f = fakeFetch(() => new Response("diff --git a/x b/x\n"));
    const client = new TetherClient({ baseURL: "https://edge.example", token: "tok", fetch: f.fetch });
    expect(await client.getArtifact("t1", "diff.patch")).toContain("diff --git");
    expect(f.calls[0]!.url).toBe("https://edge.example/v1/tasks/t1/artifacts/diff.patch");
    const urls: string[] = [];
    const stream = client.streamTask("t1", {
      socket: (url, protocols) => {
        urls.push(url, ...protocols);
        throw new Error("no sockets here");
      },
    });
    stream.start();
    stream.close();
    expect(urls).toEqual(["wss://edge.example/v1/tasks/t1/ws?after=0", SUBPROTOCOL, `${BEARER_SUBPROTOCOL_PREFIX}tok`]);
  });

  it("streams an export line by line, parsed, and rejects a line that is not an export line", async () => {
    const end = { kind: "end", taskID: "t1", events: 1, artifacts: 0 };
    const event = { kind: "event", event: { seq: 1, ts: TASK.createdAt, type: "status", data: { status: "queued" } } };
    const text = `${JSON.stringify({ kind: "task", format: "tether.export.v1", task: TASK })}\n${JSON.stringify(event)}\n${JSON.stringify(end)}\n`;
    const body = (t: string) => new Response(new Blob([t]).stream(), { headers: { "content-type": "application/x-ndjson" } });
    const f = fakeFetch(() => body(text));
    const client = new TetherClient({ baseURL: "http://edge", token: "tok", fetch: f.fetch });
    const lines = [];
    for await (const line of client.exportTask("t1")) lines.push(line);
    expect(lines.map((l) => l.kind)).toEqual(["task", "event", "end"]);
    expect(f.calls[0]).toMatchObject({ url: "http://edge/v1/tasks/t1/export", method: "GET" });
    const bad = new TetherClient({ baseURL: "http://edge", token: "tok", fetch: async () => body(`${JSON.stringify({ kind: "nope" })}\n`) });
    await expect(async () => {
      for await (const _ of bad.exportTask("t1")) void _;
    }).rejects.toMatchObject({ code: "invalid_response" });
  });

  it("imports NDJSON with replace, deletes, and sends settings", async () => {
    const f = fakeFetch((call) =>
      call.url.includes("/v1/import")
        ? Response.json({ task: TASK, missingArtifacts: ["diff.patch"] }, { status: 201 })
        : call.url.endsWith("/v1/settings")
          ? Response.json({ settings: { retentionDays: 30 } })
          : new Response(null, { status: 204 }),
    );
    const client = new TetherClient({ baseURL: "http://edge", token: "tok", fetch: f.fetch });
    const result = await client.importTask([{ kind: "end", taskID: "t1", events: 0, artifacts: 0 }], { replace: true });
    expect(result.missingArtifacts).toEqual(["diff.patch"]);
    expect(f.calls[0]).toMatchObject({ url: "http://edge/v1/import?replace=true", method: "POST", body: '{"kind":"end","taskID":"t1","events":0,"artifacts":0}\n' });
    expect(f.calls[0]!.headers["content-type"]).toBe("application/x-ndjson");
    await client.deleteTask("t1");
    expect(f.calls[1]).toMatchObject({ url: "http://edge/v1/tasks/t1", method: "DELETE" });
    expect(await client.putSettings({ retentionDays: 30 })).toEqual({ retentionDays: 30 });
    expect(f.calls[2]).toMatchObject({ method: "PUT", body: '{"retentionDays":30}' });
  });
});
