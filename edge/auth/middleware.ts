/**
 * The two kinds of caller. A user route takes only a user JWT; a runner route takes only
 * a runner credential (its account MAC checked here, then its secret against its Account's
 * hash on every request, so a deleted runner is refused at once). Either mistake is a 401.
 */
import { createMiddleware } from "hono/factory";
import { ErrorCode } from "../../shared/index.ts";
import { type AppEnv, accountStub } from "../app-env.ts";
import { looksLikeRunnerCredential, parseRunnerCredential } from "./credentials.ts";
import { fail } from "../http-error.ts";
import { bearerToken, verifyUserToken } from "./user-auth.ts";

export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.raw);
  if (!token) throw fail(ErrorCode.Unauthorized, "a user token is required (Authorization: Bearer <jwt>)");
  if (looksLikeRunnerCredential(token)) throw fail(ErrorCode.Unauthorized, "a runner credential does not work on a user route");
  const result = await verifyUserToken(token, c.env);
  if (!result.ok) throw fail(ErrorCode.Unauthorized, result.message);
  c.set("user", result.user);
  await next();
});

export const requireRunner = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.raw);
  if (!token) throw fail(ErrorCode.Unauthorized, "a runner credential is required (Authorization: Bearer trc_…)");
  const credential = await parseRunnerCredential(c.env, token);
  if (!credential) throw fail(ErrorCode.Unauthorized, "runner credential is not valid (a runner route takes a runner credential of this edge)");
  const valid = await accountStub(c.env, credential.accountID).authenticateRunner(credential.runnerID, credential.secret);
  if (!valid) throw fail(ErrorCode.Unauthorized, "runner credential is not valid (the runner may have been deleted)");
  c.set("runner", { accountID: credential.accountID, runnerID: credential.runnerID });
  await next();
});
