/**
 * Your data (user token): delete a task, export a task or the whole account as NDJSON,
 * import an export (`import-task.ts`) and upload an imported task's artifacts back, and the
 * account's settings (retention). Mounted before the task routes, at the root.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  AccountSettings,
  type ArtifactStored,
  ErrorCode,
  type ImportResult,
  LIMITS,
  type SettingsEnvelope,
} from "../../shared/index.ts";
import { type AppEnv, accountStub, roomStub } from "../app-env.ts";
import { decodeCursor } from "../account/index.ts";
import { isTaskID, requireUser } from "../auth/index.ts";
import { fail, parseQuery, readBodyBytes, readJSON } from "../http-error.ts";
import { ArtifactName, artifactKey } from "./artifact-names.ts";
import { sha256Hex } from "./artifact-store.ts";
import { accountExportLines, ndjsonResponse, taskExportLines } from "./export-lines.ts";
import { importTask } from "./import-task.ts";

const AccountExportQuery = z.object({
  cursor: z.string().max(400).optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.maxTasksPage).default(20),
});
const ImportQuery = z.object({ replace: z.enum(["true", "false"]).default("false") });

function taskIDParam(id: string): string {
  if (!isTaskID(id)) throw fail(ErrorCode.NotFound, "no such task");
  return id;
}

export const dataRoutes = new Hono<AppEnv>();

dataRoutes.delete("/v1/tasks/:id", requireUser, async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const { accountID } = c.get("user");
  if (!(await accountStub(c.env, accountID).deleteTask(accountID, id))) throw fail(ErrorCode.NotFound, "no such task");
  return c.body(null, 204);
});

dataRoutes.get("/v1/tasks/:id/export", requireUser, async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const { accountID } = c.get("user");
  const task = await roomStub(c.env, id).getTask(accountID);
  if (!task) throw fail(ErrorCode.NotFound, "no such task");
  return ndjsonResponse(taskExportLines(c.env, accountID, task), `${id}.ndjson`);
});

dataRoutes.get("/v1/export", requireUser, async (c) => {
  const query = parseQuery(c.req.query(), AccountExportQuery);
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (cursor === null) throw fail(ErrorCode.BadRequest, "cursor is not one this API gave out");
  return ndjsonResponse(accountExportLines(c.env, c.get("user").accountID, cursor, query.limit), "tether-export.ndjson");
});

dataRoutes.post("/v1/import", requireUser, async (c) => {
  const { replace } = parseQuery(c.req.query(), ImportQuery);
  if (!c.req.raw.body) throw fail(ErrorCode.InvalidBody, "the body is one task's export (NDJSON)");
  const result = await importTask(c.env, c.get("user").accountID, c.req.raw.body, replace === "true");
  return c.json(result satisfies ImportResult, 201);
});

/** An imported task's artifact: only a name its export listed, with the listed size and SHA-256 (stored with the listed type). */
dataRoutes.put("/v1/tasks/:id/artifacts/:name", requireUser, async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const name = ArtifactName.safeParse(c.req.param("name"));
  if (!name.success) throw fail(ErrorCode.NotFound, "no such artifact");
  const { accountID } = c.get("user");
  const entry = await roomStub(c.env, id).manifestEntry(accountID, name.data);
  if (!entry) throw fail(ErrorCode.NotFound, "no imported task lists this artifact");
  const body = await readBodyBytes(c.req.raw, LIMITS.maxArtifactBytes);
  const sha256 = await sha256Hex(body);
  if (body.byteLength !== entry.size || sha256 !== entry.sha256) {
    throw fail(ErrorCode.InvalidBody, `the export lists ${entry.size} bytes with SHA-256 ${entry.sha256}; this body is ${body.byteLength} bytes with ${sha256}`);
  }
  await c.env.ARTIFACTS.put(artifactKey(accountID, id, name.data), body, { httpMetadata: { contentType: entry.contentType } });
  return c.json({ name: name.data, size: body.byteLength } satisfies ArtifactStored, 201);
});

dataRoutes.get("/v1/settings", requireUser, async (c) => {
  const settings = await accountStub(c.env, c.get("user").accountID).getSettings();
  return c.json({ settings } satisfies SettingsEnvelope);
});

dataRoutes.put("/v1/settings", requireUser, async (c) => {
  const body = await readJSON(c.req.raw, AccountSettings, LIMITS.maxBodyBytes);
  const { accountID } = c.get("user");
  const settings = await accountStub(c.env, accountID).putSettings(accountID, body);
  return c.json({ settings } satisfies SettingsEnvelope);
});
