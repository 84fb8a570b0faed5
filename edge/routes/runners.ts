/**
 * The runner registry as users see it (user token): list, drain, delete; and registration,
 * which takes only a single-use registration token in its body (its account MAC checked
 * before any Account object is named).
 */
import { type Context, Hono } from "hono";
import {
  ErrorCode,
  LIMITS,
  RegisterRunnerRequest,
  type RegisterRunnerResponse,
  type RegistrationTokenResponse,
  type RunnerList,
} from "../../shared/index.ts";
import { type AppEnv, accountStub } from "../app-env.ts";
import { canSignCredentials, formatRegistrationToken, formatRunnerCredential, isRunnerID, parseRegistrationToken, requireUser } from "../auth/index.ts";
import { fail, failWith, readBodyBytes, readJSON } from "../http-error.ts";

export const runnersRoutes = new Hono<AppEnv>();

runnersRoutes.post("/register", async (c) => {
  const body = await readJSON(c.req.raw, RegisterRunnerRequest, LIMITS.maxBodyBytes);
  const token = await parseRegistrationToken(c.env, body.token);
  if (!token) throw fail(ErrorCode.Unauthorized, "registration token is not valid");
  const { token: _used, ...rest } = body;
  const result = await accountStub(c.env, token.accountID).registerRunner(token.accountID, token.secret, rest);
  if ("error" in result) throw failWith(result);
  const credential = await formatRunnerCredential(c.env, { accountID: token.accountID, runnerID: result.runnerID, secret: result.secret });
  return c.json({ runner: { id: result.runnerID }, credential } satisfies RegisterRunnerResponse, 201);
});

runnersRoutes.post("/registration-tokens", requireUser, async (c) => {
  await readBodyBytes(c.req.raw, LIMITS.maxBodyBytes);
  if (!canSignCredentials(c.env)) {
    throw fail(ErrorCode.Internal, "the edge cannot sign registration tokens: set CREDENTIAL_SECRET (or AUTH_SECRET)");
  }
  const { accountID } = c.get("user");
  const minted = await accountStub(c.env, accountID).createRegistrationToken(accountID);
  if ("error" in minted) throw failWith(minted);
  const { secret, expiresAt } = minted;
  const token = await formatRegistrationToken(c.env, { accountID, secret });
  return c.json({ token, expiresAt } satisfies RegistrationTokenResponse, 201);
});

runnersRoutes.get("/", requireUser, async (c) => {
  const runners = await accountStub(c.env, c.get("user").accountID).listRunners();
  return c.json({ runners } satisfies RunnerList);
});

runnersRoutes.delete("/:id", requireUser, async (c) => {
  const id = c.req.param("id");
  if (!isRunnerID(id) || !(await accountStub(c.env, c.get("user").accountID).deleteRunner(id))) {
    throw fail(ErrorCode.NotFound, "no such runner");
  }
  return c.body(null, 204);
});

/** Drain: the runner keeps what it holds and gets no new task. `DELETE` undoes it. */
runnersRoutes.post("/:id/drain", requireUser, async (c) => {
  await readBodyBytes(c.req.raw, LIMITS.maxBodyBytes);
  return setDraining(c, true);
});

runnersRoutes.delete("/:id/drain", requireUser, async (c) => setDraining(c, false));

async function setDraining(c: Context<AppEnv>, draining: boolean): Promise<Response> {
  const id = c.req.param("id") ?? "";
  if (!isRunnerID(id) || !(await accountStub(c.env, c.get("user").accountID).drainRunner(id, draining))) {
    throw fail(ErrorCode.NotFound, "no such runner");
  }
  return c.body(null, 204);
}
