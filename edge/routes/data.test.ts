import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CloseCode } from "../../shared/index.ts";
import { userAccountID } from "../auth/index.ts";
import { artifactKey, artifactPrefix } from "./artifact-names.ts";
import { accountStub, bearer, call, connectRunner, createTask, JSON_HEADERS, openSocket, registerRunner, unique, userToken, waitFor } from "../testing/edge.ts";
import { acceptedTask, attachedTask, runningTask } from "../testing/runner-task.ts";

async function exportText(token: string, taskID: string): Promise<string> {
  const res = await call(`/v1/tasks/${taskID}/export`, { headers: bearer(token) });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/x-ndjson");
  return res.text();
}

function linesOf(text: string): any[] {
  return text.trim().split("\n").map((l) => JSON.parse(l));
}

async function importText(token: string, text: string, query = ""): Promise<Response> {
  return call(`/v1/import${query}`, { method: "POST", headers: bearer(token, { "content-type": "application/x-ndjson" }), body: text });
}

/** A cancelled task with a follow-up in its log and two artifacts in R2. */
async function finishedTask(token: string, accountID: string): Promise<any> {
  const task = await createTask(token, { labels: ["keep"] });
  expect((await call(`/v1/tasks/${task.id}/messages`, { method: "POST", headers: bearer(token, JSON_HEADERS), body: JSON.stringify({ text: "and the docs" }) })).status).toBe(202);
  expect((await call(`/v1/tasks/${task.id}/cancel`, { method: "POST", headers: bearer(token) })).status).toBe(202);
  await env.ARTIFACTS.put(artifactKey(accountID, task.id, "diff.patch"), "--- a\n+++ b\n+fix\n", { httpMetadata: { contentType: "text/x-diff" } });
  await env.ARTIFACTS.put(artifactKey(accountID, task.id, "summary.json"), JSON.stringify({ ok: true }), { httpMetadata: { contentType: "application/json" } });
  return task;
}

/** Row counts of every table of a room, and its key-value keys. */
async function roomStorage(taskID: string): Promise<{ rows: Record<string, number>; keys: number }> {
  const stub = env.TASK_ROOM.get(env.TASK_ROOM.idFromName(taskID));
  return runInDurableObject(stub, async (_instance, state) => {
    const tables = state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%'").toArray();
    const rows: Record<string, number> = {};
    for (const { name } of tables) rows[name] = state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM "${name}"`).one().n;
    return { rows, keys: (await state.storage.list()).size };
  });
}

async function indexHas(accountID: string, taskID: string): Promise<boolean> {
  return runInDurableObject(accountStub(accountID), (_i, state) => state.storage.sql.exec("SELECT id FROM tasks WHERE id = ?", taskID).toArray().length > 0);
}

describe("DELETE /v1/tasks/:id", () => {
  it("removes the record, the log, the artifacts and the index row, so every route says 404", async () => {
    const sub = unique("del");
    const accountID = userAccountID(sub);
    const token = await userToken({ sub });
    const task = await finishedTask(token, accountID);
    const viewer = await openSocket(`/v1/tasks/${task.id}/ws?after=0`, bearer(token));
    await viewer.next("replayed");
    expect((await roomStorage(task.id)).rows.events).toBe(4);

    const other = await userToken({ sub: unique("other") });
    expect((await call(`/v1/tasks/${task.id}`, { method: "DELETE", headers: bearer(other) })).status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).status).toBe(200);

    expect((await call(`/v1/tasks/${task.id}`, { method: "DELETE", headers: bearer(token) })).status).toBe(204);
    expect((await viewer.waitClosed()).code).toBe(CloseCode.Gone);
    for (const path of ["", "/events", "/export", "/artifacts/diff.patch"]) {
      const res = await call(`/v1/tasks/${task.id}${path}`, { headers: bearer(token) });
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as any).error.code, path).toBe("not_found");
    }
    expect((await call(`/v1/tasks/${task.id}/ws`, { headers: bearer(token, { upgrade: "websocket" }) })).status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}/messages`, { method: "POST", headers: bearer(token, JSON_HEADERS), body: JSON.stringify({ text: "hi" }) })).status).toBe(404);
    expect((await call(`/v1/tasks/${task.id}`, { method: "DELETE", headers: bearer(token) })).status).toBe(404);
    expect(((await (await call("/v1/tasks", { headers: bearer(token) })).json()) as any).tasks).toEqual([]);

    const storage = await roomStorage(task.id);
    expect(Object.values(storage.rows).every((n) => n === 0), JSON.stringify(storage)).toBe(true);
    expect(storage.keys).toBe(0);
    expect((await env.ARTIFACTS.list({ prefix: artifactPrefix(accountID, task.id) })).objects).toEqual([]);
    expect(await indexHas(accountID, task.id)).toBe(false);
  });

  it("revokes a running task from its runner first and closes the runner's data socket", async () => {
    const token = await userToken({ sub: unique("del") });
    const { runner, control, task, assignment, data } = await runningTask(token);

    expect((await call(`/v1/tasks/${task.id}`, { method: "DELETE", headers: bearer(token) })).status).toBe(204);
    expect(await control.next("revoke")).toMatchObject({ taskID: task.id, epoch: assignment.epoch, reason: "the task was deleted" });
    expect((await data.waitClosed()).code).toBe(CloseCode.Revoked);
    expect((await call(`/v1/runner/tasks/${task.id}/ws`, { headers: bearer(runner.credential, { upgrade: "websocket" }) })).status).toBe(404);
    const runners = ((await (await call("/v1/runners", { headers: bearer(token) })).json()) as any).runners;
    expect(runners[0].runningTasks).toEqual([]);
    control.close();
  });

  it("keeps a deleted runner's tasks, their logs and their artifacts", async () => {
    const sub = unique("keep");
    const accountID = userAccountID(sub);
    const token = await userToken({ sub });
    const { runner, control, task, assignment } = await acceptedTask(token);
    const upload = await call(`/v1/runner/tasks/${task.id}/artifacts/diff.patch?epoch=${assignment.epoch}`, { method: "PUT", headers: bearer(runner.credential), body: "+x\n" });
    expect(upload.status).toBe(201);
    expect((await call(`/v1/runners/${runner.id}`, { method: "DELETE", headers: bearer(token) })).status).toBe(204);

    const read = await waitFor(async () => ((await (await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).json()) as any).task, (t) => t.status === "lost");
    expect(read.id).toBe(task.id);
    const events = ((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(token) })).json()) as any).events;
    expect(events.map((e: any) => e.data.status)).toEqual(["queued", "assigned", "lost"]);
    expect(await (await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(token) })).text()).toBe("+x\n");
    expect(await indexHas(accountID, task.id)).toBe(true);
    control.close();
  });
});

describe("export and import", () => {
  it("exports the record, the events in seq order, the artifacts with their SHA-256, then end", async () => {
    const sub = unique("exp");
    const accountID = userAccountID(sub);
    const token = await userToken({ sub });
    const task = await finishedTask(token, accountID);
    const lines = linesOf(await exportText(token, task.id));
    expect(lines.map((l) => l.kind)).toEqual(["task", "event", "event", "event", "event", "artifact", "artifact", "end"]);
    expect(lines[0]).toMatchObject({ format: "tether.export.v1", task: { id: task.id, status: "cancelled", lastSeq: 4 } });
    expect(lines.slice(1, 5).map((l) => [l.event.seq, l.event.type])).toEqual([[1, "status"], [2, "user.message"], [3, "user.cancel"], [4, "status"]]);
    const events = ((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(token) })).json()) as any).events;
    expect(lines.slice(1, 5).map((l) => l.event)).toEqual(events);
    const diff = new TextEncoder().encode("--- a\n+++ b\n+fix\n");
    const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", diff))].map((b) => b.toString(16).padStart(2, "0")).join("");
    expect(lines[5].artifact).toEqual({ name: "diff.patch", size: diff.byteLength, sha256: sha, contentType: "text/x-diff" });
    expect(lines[6].artifact.name).toBe("summary.json");
    expect(lines[7]).toEqual({ kind: "end", taskID: task.id, events: 4, artifacts: 2 });
    expect((await call(`/v1/tasks/${task.id}/export`, { headers: bearer(await userToken({ sub: unique("x") })) })).status).toBe(404);
  });

  it("round-trips a task through delete and import: the same record, events, artifacts and export", async () => {
    const sub = unique("trip");
    const accountID = userAccountID(sub);
    const token = await userToken({ sub });
    const task = await finishedTask(token, accountID);
    const before = {
      task: ((await (await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).json()) as any).task,
      events: ((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(token) })).json()) as any).events,
      export: await exportText(token, task.id),
      diff: await (await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(token) })).text(),
      summary: await (await call(`/v1/tasks/${task.id}/artifacts/summary.json`, { headers: bearer(token) })).text(),
    };
    expect((await call(`/v1/tasks/${task.id}`, { method: "DELETE", headers: bearer(token) })).status).toBe(204);

    const imported = await importText(token, before.export);
    expect(imported.status).toBe(201);
    const result = (await imported.json()) as any;
    expect(result.task).toEqual(before.task);
    expect(result.missingArtifacts).toEqual(["diff.patch", "summary.json"]);
    const put = (name: string, body: string) => call(`/v1/tasks/${task.id}/artifacts/${name}`, { method: "PUT", headers: bearer(token), body });
    expect((await put("diff.patch", "--- a\n+++ b\n+other\n")).status).toBe(400);
    expect((await put("other.txt", "x")).status).toBe(404);
    expect((await put("diff.patch", before.diff)).status).toBe(201);
    expect((await put("summary.json", before.summary)).status).toBe(201);

    expect(((await (await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).json()) as any).task).toEqual(before.task);
    expect(((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(token) })).json()) as any).events).toEqual(before.events);
    expect(await exportText(token, task.id)).toBe(before.export);
    const artifact = await call(`/v1/tasks/${task.id}/artifacts/diff.patch`, { headers: bearer(token) });
    // Downloads always leave as octet-stream attachments; the stored type comes back as it was.
    expect((await env.ARTIFACTS.head(artifactKey(accountID, task.id, "diff.patch")))?.httpMetadata?.contentType).toBe("text/x-diff");
    expect(await artifact.text()).toBe(before.diff);
    const listed = ((await (await call("/v1/tasks", { headers: bearer(token) })).json()) as any).tasks;
    expect(listed).toEqual([before.task]);
    // A message to the imported (cancelled) task is refused like on the original.
    expect((await call(`/v1/tasks/${task.id}/messages`, { method: "POST", headers: bearer(token, JSON_HEADERS), body: JSON.stringify({ text: "x" }) })).status).toBe(409);
  });

  it("refuses a task that exists with 409, and replaces it when told to", async () => {
    const sub = unique("conf");
    const accountID = userAccountID(sub);
    const token = await userToken({ sub });
    const task = await finishedTask(token, accountID);
    const text = await exportText(token, task.id);
    const refused = await importText(token, text);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as any).error.code).toBe("conflict");
    // Another account cannot take over the id, replace or not.
    const other = await userToken({ sub: unique("thief") });
    expect((await importText(other, text, "?replace=true")).status).toBe(409);
    expect((await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).status).toBe(200);

    // A replacement cut short changes nothing.
    expect((await importText(token, text.trim().split("\n").slice(0, -1).join("\n"), "?replace=true")).status).toBe(400);
    expect(await exportText(token, task.id)).toBe(text);
    const replaced = await importText(token, text, "?replace=true");
    expect(replaced.status).toBe(201);
    expect(((await replaced.json()) as any).missingArtifacts).toEqual(["diff.patch", "summary.json"]);
    expect((await env.ARTIFACTS.list({ prefix: artifactPrefix(accountID, task.id) })).objects).toEqual([]);
    expect((await exportText(token, task.id)).split("\n").filter((l) => l.includes('"kind":"event"'))).toHaveLength(4);
  });

  it("imports a task exported while it ran as lost, with a status event saying why, and never dispatches it", async () => {
    const token = await userToken({ sub: unique("run") });
    const runner = await registerRunner(token);
    const control = await connectRunner(runner.credential);
    const task = await createTask(token);
    await control.next("assign");
    const text = await exportText(token, task.id);
    expect(linesOf(text)[0].task.status).toBe("assigned");
    expect((await call(`/v1/tasks/${task.id}`, { method: "DELETE", headers: bearer(token) })).status).toBe(204);
    await control.next("revoke");

    const imported = (await (await importText(token, text)).json()) as any;
    expect(imported.task).toMatchObject({ id: task.id, status: "lost", lastSeq: 3 });
    expect(imported.task.statusReason).toContain("imported from an export taken while the task was assigned");
    const events = ((await (await call(`/v1/tasks/${task.id}/events`, { headers: bearer(token) })).json()) as any).events;
    expect(events.map((e: any) => e.data.status)).toEqual(["queued", "assigned", "lost"]);
    // The runner has a free slot, yet gets no assignment of the imported task.
    const other = await createTask(token);
    const next = await control.next("assign", control.count("assign"));
    expect(next.assignment.task.id).toBe(other.id);
    control.close();
  });

  it("replacing a running task revokes it from its runner once the export is in", async () => {
    const token = await userToken({ sub: unique("rep") });
    const { control, task, assignment, data } = await attachedTask(token);
    const text = await exportText(token, task.id);

    expect((await importText(token, text, "?replace=true")).status).toBe(201);
    expect(await control.next("revoke")).toMatchObject({ taskID: task.id, epoch: assignment.epoch });
    expect((await data.waitClosed()).code).toBe(CloseCode.Revoked);
    expect(((await (await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).json()) as any).task.status).toBe("lost");
    const runners = ((await (await call("/v1/runners", { headers: bearer(token) })).json()) as any).runners;
    expect(runners[0].runningTasks).toEqual([]);
    control.close();
  });

  it("refuses an export cut short, one with a gap in its seqs, and lines that are not an export; nothing shows", async () => {
    const sub = unique("bad");
    const accountID = userAccountID(sub);
    const token = await userToken({ sub });
    const task = await finishedTask(token, accountID);
    const text = await exportText(token, task.id);
    expect((await call(`/v1/tasks/${task.id}`, { method: "DELETE", headers: bearer(token) })).status).toBe(204);
    const lines = text.trim().split("\n");
    const cases: [string, string][] = [
      ["no end line", lines.slice(0, -1).join("\n")],
      ["a gap", [...lines.slice(0, 2), ...lines.slice(3)].join("\n")],
      ["counts that differ", [...lines.slice(0, -1), JSON.stringify({ kind: "end", taskID: task.id, events: 3, artifacts: 2 })].join("\n")],
      ["no task line", lines.slice(1).join("\n")],
      ["not JSON", `${lines[0]}\n{oops`],
      ["another format", lines.join("\n").replace("tether.export.v1", "other")],
      ["a foreign id", lines.join("\n").replaceAll(task.id, "not-a-task")],
      ["empty", ""],
    ];
    for (const [label, body] of cases) {
      const res = await importText(token, body);
      expect(res.status, label).toBe(400);
      expect(((await res.json()) as any).error.code, label).toBe("invalid_body");
      expect((await call(`/v1/tasks/${task.id}`, { headers: bearer(token) })).status, label).toBe(404);
    }
    expect((await importText(token, text)).status).toBe(201);
  });

  it("exports the whole account a page at a time, resumable from any task's cursor", async () => {
    const sub = unique("acct");
    const token = await userToken({ sub });
    const made = [];
    for (let i = 0; i < 3; i++) {
      made.push(await createTask(token, { prompt: `task ${i}` }));
      await new Promise((r) => setTimeout(r, 3));
    }
    const page = async (q: string) => linesOf(await (await call(`/v1/export${q}`, { headers: bearer(token) })).text());
    const first = await page("?limit=2");
    expect(first.filter((l) => l.kind === "task").map((l) => l.task.id)).toEqual([made[2].id, made[1].id]);
    expect(first.map((l) => l.kind)).toEqual(["task", "event", "end", "cursor", "task", "event", "end", "cursor", "page"]);
    const resumed = await page(`?limit=2&cursor=${first[3].cursor}`);
    expect(resumed.filter((l) => l.kind === "task").map((l) => l.task.id)).toEqual([made[1].id, made[0].id]);
    const last = await page(`?cursor=${first.at(-1).nextCursor}`);
    expect(last.filter((l) => l.kind === "task").map((l) => l.task.id)).toEqual([made[0].id]);
    expect(last.at(-1)).toEqual({ kind: "page", nextCursor: null });
    expect((await call("/v1/export?cursor=!!", { headers: bearer(token) })).status).toBe(400);
  });

  it("publishes the data routes in the OpenAPI document", async () => {
    const doc = (await (await call("/v1/openapi.json")).json()) as any;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/tasks/{id}/export", "/v1/export", "/v1/import", "/v1/settings"]));
    expect(Object.keys(doc.paths["/v1/tasks/{id}"])).toEqual(["get", "delete"]);
    expect(Object.keys(doc.paths["/v1/import"].post.requestBody.content)).toEqual(["application/x-ndjson"]);
    expect(doc.components.schemas.ExportLine.oneOf ?? doc.components.schemas.ExportLine.anyOf).toHaveLength(4);
  });
});

describe("odd input to the data routes", () => {
  it("answers with JSON and a 4xx, never a 5xx", async () => {
    const token = await userToken({ sub: unique("odd") });
    const task = await createTask(token);
    const ndjson = bearer(token, { "content-type": "application/x-ndjson" });
    const cases: [string, RequestInit, number][] = [
      ["/v1/tasks/%ZZ", { method: "DELETE", headers: bearer(token) }, 404],
      ["/v1/tasks/%ZZ/export", { headers: bearer(token) }, 404],
      ["/v1/export?limit=1e400", { headers: bearer(token) }, 400],
      ["/v1/export?limit=0", { headers: bearer(token) }, 400],
      ["/v1/import?replace=maybe", { method: "POST", headers: ndjson, body: "{}" }, 400],
      ["/v1/import", { method: "POST", headers: ndjson, body: "[".repeat(100_000) }, 400],
      ["/v1/import", { method: "POST", headers: ndjson, body: "x".repeat(2 * 1024 * 1024) }, 413],
      ["/v1/import", { method: "POST", headers: ndjson, body: "\u0000\uFFFF\n\n" }, 400],
      ["/v1/import", { method: "POST", headers: bearer(token) }, 400],
      ["/v1/import", { method: "POST", body: "{}" }, 401],
      [`/v1/tasks/${task.id}/artifacts/diff.patch`, { method: "PUT", headers: bearer(token), body: "x" }, 404],
      [`/v1/tasks/${task.id}/artifacts/..`, { method: "PUT", headers: bearer(token), body: "x" }, 404],
      ["/v1/settings", { method: "PUT", headers: bearer(token, JSON_HEADERS), body: "null" }, 400],
      ["/v1/settings", { method: "PUT", headers: bearer(token, JSON_HEADERS), body: '{"retentionDays":1e400}' }, 400],
      ["/v1/settings", { headers: {} }, 401],
    ];
    for (const [path, init, status] of cases) {
      const res = await call(path, init);
      const label = `${init.method ?? "GET"} ${path.slice(0, 60)}`;
      expect(res.status, label).toBe(status);
      expect(((await res.json()) as any).error.code, label).toEqual(expect.any(String));
    }
  });
});

describe("retention", () => {
  it("keeps settings per account and refuses bad ones", async () => {
    const token = await userToken({ sub: unique("set") });
    const get = async () => ((await (await call("/v1/settings", { headers: bearer(token) })).json()) as any).settings;
    expect(await get()).toEqual({ retentionDays: null });
    const put = (body: string) => call("/v1/settings", { method: "PUT", headers: bearer(token, JSON_HEADERS), body });
    expect((await put(JSON.stringify({ retentionDays: 30 }))).status).toBe(200);
    expect(await get()).toEqual({ retentionDays: 30 });
    for (const bad of [{ retentionDays: 0 }, { retentionDays: 1.5 }, { retentionDays: "30" }, {}, { retentionDays: 3, other: 1 }]) {
      expect((await put(JSON.stringify(bad))).status, JSON.stringify(bad)).toBe(400);
    }
    expect((await put(JSON.stringify({ retentionDays: null }))).status).toBe(200);
    expect(await get()).toEqual({ retentionDays: null });
  });

  it("deletes tasks that ended longer ago than the account keeps them, by the alarm, and keeps the rest", async () => {
    const sub = unique("ret");
    const accountID = userAccountID(sub);
    const token = await userToken({ sub });
    const old = await finishedTask(token, accountID);
    const recent = await finishedTask(token, accountID);
    const running = await createTask(token);
    // An old task: its export, with its times moved ten days back, imported over it.
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000).toISOString();
    const text = await exportText(token, old.id);
    const lines = linesOf(text);
    lines[0].task.updatedAt = tenDaysAgo;
    lines[0].task.createdAt = tenDaysAgo;
    expect((await importText(token, lines.map((l) => JSON.stringify(l)).join("\n"), "?replace=true")).status).toBe(201);
    await env.ARTIFACTS.put(artifactKey(accountID, old.id, "diff.patch"), "old");

    expect((await call("/v1/settings", { method: "PUT", headers: bearer(token, JSON_HEADERS), body: JSON.stringify({ retentionDays: 7 }) })).status).toBe(200);
    // The old task is due already, so the alarm set with the setting fires at once.
    await waitFor(async () => (await call(`/v1/tasks/${old.id}`, { headers: bearer(token) })).status, (status) => status === 404);
    expect((await call(`/v1/tasks/${old.id}`, { headers: bearer(token) })).status).toBe(404);
    expect((await env.ARTIFACTS.list({ prefix: artifactPrefix(accountID, old.id) })).objects).toEqual([]);
    expect(await indexHas(accountID, old.id)).toBe(false);
    for (const kept of [recent, running]) expect((await call(`/v1/tasks/${kept.id}`, { headers: bearer(token) })).status).toBe(200);
    // The next sweep is due when the recent task turns seven days old; an early run deletes nothing.
    const account = accountStub(accountID);
    const ended = ((await (await call(`/v1/tasks/${recent.id}`, { headers: bearer(token) })).json()) as any).task.updatedAt;
    const next = await waitFor(() => runInDurableObject(account, (_i, state) => state.storage.getAlarm()), (at) => at === Date.parse(ended) + 7 * 86_400_000);
    expect(next).toBe(Date.parse(ended) + 7 * 86_400_000);
    expect(await runDurableObjectAlarm(account)).toBe(true);
    expect((await call(`/v1/tasks/${recent.id}`, { headers: bearer(token) })).status).toBe(200);
  });
});
