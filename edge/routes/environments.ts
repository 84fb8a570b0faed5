/**
 * Saved environments (user token): `GET /v1/environments` lists the account's, `POST`
 * creates one (201), `PUT /:id` replaces one's fields, `DELETE /:id` removes it (204). A
 * task names one at creation (`environment`) or the account matches one by repository
 * (edge/routes/tasks.ts); either way the task's record carries a copy.
 */
import { Hono } from "hono";
import { type EnvironmentEnvelope, EnvironmentRequest, type EnvironmentList, ErrorCode, LIMITS } from "../../shared/index.ts";
import { type AppEnv, accountStub } from "../app-env.ts";
import { requireUser } from "../auth/index.ts";
import { fail, failWith, readJSON } from "../http-error.ts";

const ENVIRONMENT_ID = /^env_[0-9a-f]{16}$/;

function environmentIDParam(id: string): string {
  if (!ENVIRONMENT_ID.test(id)) throw fail(ErrorCode.NotFound, "no such environment");
  return id;
}

function newEnvironmentID(): string {
  return `env_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

export const environmentRoutes = new Hono<AppEnv>();
environmentRoutes.use("*", requireUser);

environmentRoutes.get("/", async (c) => {
  const environments = await accountStub(c.env, c.get("user").accountID).listEnvironments();
  return c.json({ environments } satisfies EnvironmentList);
});

environmentRoutes.post("/", async (c) => {
  const body = await readJSON(c.req.raw, EnvironmentRequest, LIMITS.maxBodyBytes);
  const { accountID } = c.get("user");
  const created = await accountStub(c.env, accountID).createEnvironment(accountID, newEnvironmentID(), body);
  if ("error" in created) throw failWith(created);
  return c.json({ environment: created } satisfies EnvironmentEnvelope, 201);
});

environmentRoutes.put("/:id", async (c) => {
  const id = environmentIDParam(c.req.param("id"));
  const body = await readJSON(c.req.raw, EnvironmentRequest, LIMITS.maxBodyBytes);
  const replaced = await accountStub(c.env, c.get("user").accountID).replaceEnvironment(id, body);
  if (!replaced) throw fail(ErrorCode.NotFound, "no such environment");
  return c.json({ environment: replaced } satisfies EnvironmentEnvelope);
});

environmentRoutes.delete("/:id", async (c) => {
  const id = environmentIDParam(c.req.param("id"));
  if (!(await accountStub(c.env, c.get("user").accountID).deleteEnvironment(id))) throw fail(ErrorCode.NotFound, "no such environment");
  return c.body(null, 204);
});
