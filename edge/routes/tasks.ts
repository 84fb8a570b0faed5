/**
 * The public task API (user token): create, list, read, events, the viewer WebSocket,
 * follow-ups, approvals' answers, cancel, raising the budget's limits and artifacts.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  AnswerApprovalRequest,
  ApprovalID,
  type CommandAccepted,
  CreateTaskRequest,
  ErrorCode,
  type EventPage,
  LIMITS,
  EgressAllowRequest,
  MessageRequest,
  newTaskRecord,
  RaiseLimitsRequest,
  type TaskEnvelope,
  type TaskPage,
  TaskStatus,
} from "../../shared/index.ts";
import { type AppEnv, accountStub, roomStub } from "../app-env.ts";
import { isTaskID, newTaskID, requireUser } from "../auth/index.ts";
import { fail, failWith, parseQuery, readBodyBytes, readJSON } from "../http-error.ts";
import { forwardSocket } from "./socket-forward.ts";
import { decodeCursor } from "../account/index.ts";
import { artifactKey, ArtifactName } from "./artifact-names.ts";

const nonNegativeInt = z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const ListTasksQuery = z.object({
  status: TaskStatus.optional(),
  q: z.string().trim().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(LIMITS.maxTasksPage).default(50),
  cursor: z.string().max(400).optional(),
});
const EventsQuery = z.object({
  after: nonNegativeInt.default(0),
  limit: z.coerce.number().int().min(1).max(LIMITS.maxEventsPage).default(LIMITS.maxEventsPage),
});
const SocketQuery = z.object({ after: nonNegativeInt.default(0) });
const EmptyRequest = z.object({}).strict();

function taskIDParam(id: string): string {
  if (!isTaskID(id)) throw fail(ErrorCode.NotFound, "no such task");
  return id;
}

export const taskRoutes = new Hono<AppEnv>();
taskRoutes.use("*", requireUser);

taskRoutes.post("/", async (c) => {
  const body = await readJSON(c.req.raw, CreateTaskRequest, LIMITS.maxBodyBytes);
  const { userID, accountID } = c.get("user");
  const account = accountStub(c.env, accountID);
  const environment = await account.resolveEnvironment(body.environment, body.repo.url);
  if (environment === null) throw fail(ErrorCode.BadRequest, "no such environment");
  const task = newTaskRecord(newTaskID(), body, userID, undefined, environment);
  const created = await account.createTask(accountID, task);
  if ("error" in created) throw failWith(created);
  return c.json({ task: created } satisfies TaskEnvelope, 201);
});

taskRoutes.get("/", async (c) => {
  const query = parseQuery(c.req.query(), ListTasksQuery);
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (cursor === null) throw fail(ErrorCode.BadRequest, "cursor is not one this API gave out");
  const page = await accountStub(c.env, c.get("user").accountID).listTasks({
    status: query.status,
    q: query.q || undefined,
    limit: query.limit,
    cursor,
  });
  return c.json(page satisfies TaskPage);
});

taskRoutes.get("/:id", async (c) => {
  const task = await roomStub(c.env, taskIDParam(c.req.param("id"))).getTask(c.get("user").accountID);
  if (!task) throw fail(ErrorCode.NotFound, "no such task");
  return c.json({ task } satisfies TaskEnvelope);
});

taskRoutes.get("/:id/events", async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const query = parseQuery(c.req.query(), EventsQuery);
  // Typed by hand: the RPC stub's mapped type of an event's `data` (unknown values) is too deep for tsc.
  const room = roomStub(c.env, id) as unknown as { listEvents(accountID: string, after: number, limit: number): Promise<EventPage | null> };
  const page = await room.listEvents(c.get("user").accountID, query.after, query.limit);
  if (!page) throw fail(ErrorCode.NotFound, "no such task");
  return Response.json(page satisfies EventPage);
});

taskRoutes.get("/:id/ws", async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const { after } = parseQuery(c.req.query(), SocketQuery);
  const { userID, accountID } = c.get("user");
  return forwardSocket(roomStub(c.env, id), `https://room/viewer?after=${after}`, c.req.raw, {
    "x-tether-account": accountID,
    "x-tether-user": userID,
  });
});

taskRoutes.post("/:id/messages", async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const { text } = await readJSON(c.req.raw, MessageRequest, LIMITS.maxBodyBytes);
  const { userID, accountID } = c.get("user");
  const result = await roomStub(c.env, id).command(accountID, userID, { kind: "message", text });
  if (result === null) throw fail(ErrorCode.NotFound, "no such task");
  if ("error" in result) throw failWith(result);
  return c.json({ seq: result.seq, task: result.task } satisfies CommandAccepted, 202);
});

/** The phone lets the task reach a host (host, *.domain or host:port) for the rest of its run. */
taskRoutes.post("/:id/egress", async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const { host } = await readJSON(c.req.raw, EgressAllowRequest, LIMITS.maxBodyBytes);
  const { userID, accountID } = c.get("user");
  const result = await roomStub(c.env, id).command(accountID, userID, { kind: "egress.allow", host: host.toLowerCase() });
  if (result === null) throw fail(ErrorCode.NotFound, "no such task");
  if ("error" in result) throw failWith(result);
  return c.json({ seq: result.seq, task: result.task } satisfies CommandAccepted, 202);
});

/** The owner raises the task's budget limits (only upwards); a task paused at a reached limit goes on. */
taskRoutes.patch("/:id/limits", async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const limits = await readJSON(c.req.raw, RaiseLimitsRequest, LIMITS.maxBodyBytes);
  const { userID, accountID } = c.get("user");
  const result = await roomStub(c.env, id).command(accountID, userID, { kind: "limits", limits });
  if (result === null) throw fail(ErrorCode.NotFound, "no such task");
  if ("error" in result) throw failWith(result);
  return c.json({ seq: result.seq, task: result.task } satisfies CommandAccepted, 200);
});

/** The phone answers a task's pending approval (yes, no, always; or for a plan yes, edit with the plan's text, no). */
taskRoutes.post("/:id/approvals/:approvalID", async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const approvalID = ApprovalID.safeParse(c.req.param("approvalID"));
  if (!approvalID.success) throw fail(ErrorCode.NotFound, "no such approval");
  const answer = await readJSON(c.req.raw, AnswerApprovalRequest, LIMITS.maxBodyBytes);
  const { userID, accountID } = c.get("user");
  const result = await roomStub(c.env, id).command(accountID, userID, { kind: "approval", approvalID: approvalID.data, ...answer });
  if (result === null) throw fail(ErrorCode.NotFound, "no such task");
  if ("error" in result) throw failWith(result);
  return c.json({ seq: result.seq, task: result.task } satisfies CommandAccepted, 202);
});

/** `finish` and `cancel` take no body, or `{}`. */
for (const kind of ["finish", "cancel"] as const) {
  taskRoutes.post(`/:id/${kind}`, async (c) => {
    const id = taskIDParam(c.req.param("id"));
    const raw = new TextDecoder().decode(await readBodyBytes(c.req.raw, LIMITS.maxBodyBytes)).trim();
    if (raw !== "") {
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        throw fail(ErrorCode.InvalidBody, "body is not JSON");
      }
      if (!EmptyRequest.safeParse(json).success) throw fail(ErrorCode.InvalidBody, `${kind} takes no fields (send {} or nothing)`);
    }
    const { userID, accountID } = c.get("user");
    const result = await roomStub(c.env, id).command(accountID, userID, { kind });
    if (result === null) throw fail(ErrorCode.NotFound, "no such task");
    if ("error" in result) throw failWith(result);
    return c.json({ seq: result.seq, task: result.task } satisfies CommandAccepted, 202);
  });
}

taskRoutes.get("/:id/artifacts/:name", async (c) => {
  const id = taskIDParam(c.req.param("id"));
  const name = ArtifactName.safeParse(c.req.param("name"));
  if (!name.success) throw fail(ErrorCode.NotFound, "no such artifact");
  const { accountID } = c.get("user");
  if (!(await roomStub(c.env, id).getTask(accountID))) throw fail(ErrorCode.NotFound, "no such task");
  const object = await c.env.ARTIFACTS.get(artifactKey(accountID, id, name.data));
  if (!object) throw fail(ErrorCode.NotFound, "no such artifact");
  // A runner writes the bytes: they leave as an inert download, never as a page of this origin.
  const headers = new Headers({
    "content-type": "application/octet-stream",
    "content-disposition": `attachment; filename="${name.data}"`,
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
    "content-length": String(object.size),
    etag: object.httpEtag,
  });
  return new Response(object.body, { headers });
});
