import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LIMITS } from "../../shared/index.ts";
import { JSON_HEADERS, TestSocket, bearer, call, createTask, unique, userToken, waitFor } from "../testing/edge.ts";
import { orgAccountID } from "../auth/index.ts";
import { artifactKey } from "./artifact-names.ts";

async function post(path: string, token: string, body: string | undefined, headers: Record<string, string> = JSON_HEADERS): Promise<Response> {
  return call(path, { method: "POST", headers: bearer(token, headers), body });
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as any;
  return { status: res.status, code: body.error.code, message: body.error.message };
}

describe("POST /v1/tasks", () => {
  it("creates a queued task with a title from the prompt and its first event", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token, { labels: ["gpu"], limits: { maxTurns: 5 }, model: "claude-test" });
    expect(task).toMatchObject({ status: "queued", title: "Fix the flaky test", labels: ["gpu"], limits: { maxTurns: 5 }, model: "claude-test", lastSeq: 1 });
    expect(task.id).toMatch(/^tsk_[0-9a-f]{20}$/);
    const events = (await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(token) })).json()) as any;
    expect(events.events).toEqual([expect.objectContaining({ seq: 1, type: "status", data: expect.objectContaining({ status: "queued" }) })]);
  });

  it("refuses bad bodies with 400/413 and stores nothing", async () => {
    const token = await userToken({ sub: unique("u") });
    const repo = { url: "https://example.com/r.git" };
    expect(await errorOf(await post("/v1/tasks", token, "{not json"))).toMatchObject({ status: 400, code: "invalid_body" });
    expect(await errorOf(await post("/v1/tasks", token, JSON.stringify({ repo, prompt: "" })))).toMatchObject({ status: 400, code: "invalid_body" });
    expect(await errorOf(await post("/v1/tasks", token, JSON.stringify({ repo, prompt: "x", extra: true })))).toMatchObject({ status: 400 });
    expect(await errorOf(await post("/v1/tasks", token, JSON.stringify({ repo: { url: "ftp://x" }, prompt: "x" })))).toMatchObject({ status: 400 });
    expect(await errorOf(await post("/v1/tasks", token, JSON.stringify([1, 2])))).toMatchObject({ status: 400 });
    const big = JSON.stringify({ repo, prompt: "x".repeat(LIMITS.maxBodyBytes) });
    expect(await errorOf(await post("/v1/tasks", token, big))).toMatchObject({ status: 413, code: "payload_too_large" });
    const longPrompt = JSON.stringify({ repo, prompt: "y".repeat(LIMITS.maxPromptChars + 1) });
    expect(await errorOf(await post("/v1/tasks", token, longPrompt))).toMatchObject({ status: 400, code: "invalid_body" });
    const list = (await (await call("/v1/tasks", { headers: bearer(token) })).json()) as any;
    expect(list.tasks).toEqual([]);
  });

  it("cuts off a streamed body with no length once it passes the limit", async () => {
    const token = await userToken({ sub: unique("u") });
    const chunk = new TextEncoder().encode("a".repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 10) return controller.close();
        sent += 1;
        controller.enqueue(chunk);
      },
    });
    const res = await call("/v1/tasks", { method: "POST", headers: bearer(token, JSON_HEADERS), body, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
  });
});

describe("GET /v1/tasks", () => {
  it("lists newest first, filters by status, searches title and prompt, and pages with a cursor", async () => {
    const token = await userToken({ sub: unique("u") });
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push(await createTask(token, { prompt: `Task number ${i}\n${i === 3 ? "needle_%here" : "hay"}` }));
      await new Promise((r) => setTimeout(r, 3));
    }
    const list = async (q: string) => (await (await call(`/v1/tasks${q}`, { headers: bearer(token) })).json()) as any;
    const all = await list("");
    expect(all.tasks.map((t: any) => t.id)).toEqual(made.map((t) => t.id).reverse());
    expect(all.nextCursor).toBeNull();

    const first = await list("?limit=2");
    expect(first.tasks.map((t: any) => t.id)).toEqual([made[4].id, made[3].id]);
    const second = await list(`?limit=2&cursor=${first.nextCursor}`);
    expect(second.tasks.map((t: any) => t.id)).toEqual([made[2].id, made[1].id]);
    const third = await list(`?limit=2&cursor=${second.nextCursor}`);
    expect(third.tasks.map((t: any) => t.id)).toEqual([made[0].id]);
    expect(third.nextCursor).toBeNull();

    expect((await list("?q=needle_%25")).tasks.map((t: any) => t.id)).toEqual([made[3].id]);
    expect((await list("?q=number%202")).tasks.map((t: any) => t.id)).toEqual([made[2].id]);
    expect((await list("?q=_")).tasks.map((t: any) => t.id)).toEqual([made[3].id]);

    await post(`/v1/tasks/${made[1].id}/cancel`, token, undefined, {});
    // The room reports the change to the account's index after it answers.
    const cancelled = await waitFor(() => list("?status=cancelled"), (page) => page.tasks.length > 0);
    expect(cancelled.tasks.map((t: any) => t.id)).toEqual([made[1].id]);
    expect((await list("?status=queued")).tasks).toHaveLength(4);
  });

  it("searches the repository's URL too", async () => {
    const token = await userToken({ sub: unique("u") });
    const calc = await createTask(token, { repo: { url: "https://example.com/acme/calculator.git" }, prompt: "Fix the sum" });
    await createTask(token, { repo: { url: "https://example.com/acme/api.git" }, prompt: "Speed up the endpoint" });
    const res = await call("/v1/tasks?q=calculator", { headers: bearer(token) });
    expect(((await res.json()) as any).tasks.map((t: any) => t.id)).toEqual([calc.id]);
  });

  it("refuses bad query values", async () => {
    const token = await userToken({ sub: unique("u") });
    for (const q of ["?status=nope", "?limit=0", "?limit=101", "?limit=abc", "?cursor=!!", "?cursor=abc"]) {
      const res = await call(`/v1/tasks${q}`, { headers: bearer(token) });
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as any).error.code, q).toBe("bad_request");
    }
  });
});

describe("one task's routes", () => {
  it("reads a task, pages its events and answers 404 for unknown or malformed ids", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token);
    expect(((await (await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).json()) as any).task.id).toBe(task.id);
    await post(`/v1/tasks/${task.id}/messages`, token, JSON.stringify({ text: "also the docs" }));
    const page = (await (await call(`/v1/tasks/${task.id}/events?after=1&limit=5`, { headers: bearer(token) })).json()) as any;
    expect(page.events.map((e: any) => [e.seq, e.type])).toEqual([[2, "user.message"]]);
    expect(page.nextAfter).toBe(2);
    for (const path of ["/v1/tasks/tsk_00000000000000000000", "/v1/tasks/nope", "/v1/tasks/../healthz/events"]) {
      expect((await call(path, { headers: bearer(token) })).status, path).toBe(404);
    }
    for (const q of ["?after=-1", "?after=x", "?limit=0", "?limit=1001"]) {
      expect((await call(`/v1/tasks/${task.id}/events${q}`, { headers: bearer(token) })).status, q).toBe(400);
    }
  });

  it("takes an egress allowance with 202 and logs it as user.egress; a bad host is a 400 and logs nothing", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token);
    const allowed = await post(`/v1/tasks/${task.id}/egress`, token, JSON.stringify({ host: "Registry.Test:4873" }));
    expect(allowed.status).toBe(202);
    expect(((await allowed.json()) as any).seq).toBe(2);
    for (const body of [{ host: "http://x.test" }, { host: "" }, { host: "a b" }, { host: "x.test", port: 1 }, {}]) {
      expect(await errorOf(await post(`/v1/tasks/${task.id}/egress`, token, JSON.stringify(body))), JSON.stringify(body)).toMatchObject({ status: 400, code: "invalid_body" });
    }
    const events = (await (await call(`/v1/tasks/${task.id}/events?after=1`, { headers: bearer(token) })).json()) as any;
    expect(events.events.map((e: any) => [e.type, e.data.host])).toEqual([["user.egress", "registry.test:4873"]]);
    await post(`/v1/tasks/${task.id}/cancel`, token, "{}");
    expect(await errorOf(await post(`/v1/tasks/${task.id}/egress`, token, JSON.stringify({ host: "x.test" })))).toMatchObject({ status: 409, code: "task_finished" });
  });

  it("takes follow-ups and a cancel with 202, then refuses both on a finished task with 409", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token);
    const msg = await post(`/v1/tasks/${task.id}/messages`, token, JSON.stringify({ text: "use the new API" }));
    expect(msg.status).toBe(202);
    expect(((await msg.json()) as any).seq).toBe(2);
    expect((await post(`/v1/tasks/${task.id}/messages`, token, JSON.stringify({ text: " " }))).status).toBe(400);
    expect((await post(`/v1/tasks/${task.id}/messages`, token, JSON.stringify({ text: "x".repeat(LIMITS.maxMessageChars + 1) }))).status).toBe(400);
    expect((await post(`/v1/tasks/${task.id}/cancel`, token, JSON.stringify({ why: 1 }))).status).toBe(400);
    expect((await post(`/v1/tasks/${task.id}/finish`, token, JSON.stringify({ now: true }))).status).toBe(400);
    // Nothing has started, so there is no turn to wrap up: a finish is refused and changes nothing.
    expect(await errorOf(await post(`/v1/tasks/${task.id}/finish`, token, "{}"))).toMatchObject({ status: 409, code: "conflict" });
    const cancel = await post(`/v1/tasks/${task.id}/cancel`, token, "{}");
    expect(cancel.status).toBe(202);
    expect(((await cancel.json()) as any).task.status).toBe("cancelled");
    expect(await errorOf(await post(`/v1/tasks/${task.id}/cancel`, token, undefined, {}))).toMatchObject({ status: 409, code: "task_finished" });
    expect(await errorOf(await post(`/v1/tasks/${task.id}/messages`, token, JSON.stringify({ text: "more" })))).toMatchObject({ status: 409 });
    expect(await errorOf(await post(`/v1/tasks/${task.id}/finish`, token, undefined, {}))).toMatchObject({ status: 409, code: "task_finished" });
    const events = (await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(token) })).json()) as any;
    expect(events.events.map((e: any) => e.type)).toEqual(["status", "user.message", "user.cancel", "status"]);
    const listed = (await (await call("/v1/tasks", { headers: bearer(token) })).json()) as any;
    expect(listed.tasks[0]).toMatchObject({ id: task.id, status: "cancelled" });
  });

  it("serves artifacts from R2 to the task's account only", async () => {
    const org = unique("org");
    const token = await userToken({ sub: "a", org });
    const task = await createTask(token);
    expect((await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(token) })).status).toBe(404);
    await env.ARTIFACTS.put(artifactKey(orgAccountID(org), task.id, "diff.patch"), "--- a\n+++ b\n", { httpMetadata: { contentType: "text/x-diff" } });
    const res = await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(token) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(await res.text()).toBe("--- a\n+++ b\n");
    const other = await userToken({ sub: unique("u") });
    expect((await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(other) })).status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}/artifacts/..`, { headers: bearer(token) })).status).toBe(404);
  });

  it("opens the viewer socket with replay, and refuses a plain GET with 426", async () => {
    const token = await userToken({ sub: unique("u") });
    const task = await createTask(token);
    expect((await call(`/v1/tasks/${task.id}/ws`, { headers: bearer(token) })).status).toBe(426);
    expect((await call(`/v1/tasks/${task.id}/ws?after=-2`, { headers: bearer(token, { upgrade: "websocket" }) })).status).toBe(400);
    const res = await call(`/v1/tasks/${task.id}/ws?after=0`, { headers: bearer(token, { upgrade: "websocket", "x-tether-account": "someone-else" }) });
    expect(res.status).toBe(101);
    const viewer = new TestSocket(res.webSocket!);
    const replayed = await viewer.next("replayed");
    expect(replayed).toMatchObject({ lastSeq: 1, status: "queued" });
    viewer.send({ type: "message", text: "hello from the phone" });
    await viewer.until((f) => f.some((x) => (x.type === "event" && x.event.type === "user.message") || (x.type === "events" && x.events.some((e: any) => e.type === "user.message"))));
    viewer.close();
  });
});

describe("meta routes", () => {
  it("answers healthz, a JSON 404 and an OpenAPI document built from the schemas", async () => {
    expect(await (await call("/healthz")).json()).toEqual({ ok: true });
    const missing = await call("/v1/nothing");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as any).error.code).toBe("not_found");
    const doc = (await (await call("/v1/openapi.json")).json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/tasks", "/v1/tasks/{id}/ws", "/v1/runners/register"]));
    expect(doc.components.schemas.Task.properties.status.enum).toContain("lost");
    expect(doc.components.schemas.CreateTaskRequest.required).toEqual(expect.arrayContaining(["repo", "prompt"]));
  });
});
