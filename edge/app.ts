/**
 * The Worker's HTTP surface: a Hono app whose every failure is `{ error: { code, message } }`.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ErrorCode, type Health } from "../shared/index.ts";
import type { AppEnv } from "./app-env.ts";
import { errorResponse } from "./http-error.ts";
import { dataRoutes, environmentRoutes, openAPIDocument, pushRoutes, runnerRoutes, runnersRoutes, taskRoutes } from "./routes/index.ts";

export const app = new Hono<AppEnv>();

app.get("/healthz", (c) => c.json({ ok: true } satisfies Health));
app.get("/v1/openapi.json", (c) => c.json(openAPIDocument()));
// Before the task routes, so a data route answers without their middleware running too.
app.route("/", dataRoutes);
app.route("/v1/tasks", taskRoutes);
app.route("/v1/runners", runnersRoutes);
app.route("/v1/environments", environmentRoutes);
app.route("/v1/runner", runnerRoutes);
app.route("/v1/push", pushRoutes);

app.notFound((c) => errorResponse(ErrorCode.NotFound, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`));

app.onError((err, c) => {
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get("content-type")?.includes("application/json")) return res;
    return errorResponse(res.status === 401 ? ErrorCode.Unauthorized : ErrorCode.BadRequest, err.message || "bad request", err.status);
  }
  console.error({ msg: "unhandled error", method: c.req.method, path: new URL(c.req.url).pathname, err: String(err), stack: (err as Error).stack });
  return errorResponse(ErrorCode.Internal, "the edge failed to handle this request");
});
