/**
 * Routes a runner calls with its credential: the control socket, a task's data socket
 * (only for a task it holds) and artifact uploads (only under a live lease, and only until
 * the task's terminal status).
 */
import { Hono } from "hono";
import { z } from "zod";
import { type ArtifactStored, ErrorCode, LIMITS, isTerminal } from "../../shared/index.ts";
import { type AppEnv, accountStub, roomStub } from "../app-env.ts";
import { isTaskID, requireRunner } from "../auth/index.ts";
import { fail, parseQuery, readBodyBytes } from "../http-error.ts";
import { forwardSocket, requireUpgrade } from "./socket-forward.ts";
import { ArtifactName, artifactKey } from "./artifact-names.ts";

const UploadQuery = z.object({ epoch: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
const ContentType = z.string().max(200).regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/);

export const runnerRoutes = new Hono<AppEnv>();
runnerRoutes.use("*", requireRunner);

runnerRoutes.get("/connect", async (c) => {
  requireUpgrade(c.req.raw);
  const { accountID, runnerID } = c.get("runner");
  return forwardSocket(accountStub(c.env, accountID), "https://account/control", c.req.raw, {
    "x-tether-account": accountID,
    "x-tether-runner": runnerID,
  });
});

runnerRoutes.get("/tasks/:id/ws", async (c) => {
  const id = c.req.param("id");
  const { accountID, runnerID } = c.get("runner");
  requireUpgrade(c.req.raw);
  if (!isTaskID(id) || !(await accountStub(c.env, accountID).runnerHolds(runnerID, id))) {
    throw fail(ErrorCode.NotFound, "no such task held by this runner");
  }
  return forwardSocket(roomStub(c.env, id), "https://room/runner", c.req.raw, {
    "x-tether-account": accountID,
    "x-tether-runner": runnerID,
  });
});

runnerRoutes.put("/tasks/:id/artifacts/:name", async (c) => {
  const id = c.req.param("id");
  const name = ArtifactName.safeParse(c.req.param("name"));
  if (!name.success) throw fail(ErrorCode.BadRequest, "artifact names are 1-100 of [a-zA-Z0-9._-]");
  const { epoch } = parseQuery(c.req.query(), UploadQuery);
  const { accountID, runnerID } = c.get("runner");
  if (!isTaskID(id)) throw fail(ErrorCode.NotFound, "no such task");
  const room = roomStub(c.env, id);
  if (!(await room.holdsLease(accountID, runnerID, epoch))) {
    const task = await room.getTask(accountID);
    if (!task) throw fail(ErrorCode.NotFound, "no such task");
    if (isTerminal(task.status)) throw fail(ErrorCode.TaskFinished, `task ${id} is ${task.status}: uploads end with its terminal status`);
    throw fail(ErrorCode.NotLeased, `this runner holds no live lease of the task under epoch ${epoch}`);
  }
  const body = await readBodyBytes(c.req.raw, LIMITS.maxArtifactBytes);
  const type = ContentType.safeParse(c.req.header("content-type"));
  await c.env.ARTIFACTS.put(artifactKey(accountID, id, name.data), body, {
    httpMetadata: { contentType: type.success ? type.data : "application/octet-stream" },
  });
  return c.json({ name: name.data, size: body.byteLength } satisfies ArtifactStored, 201);
});
