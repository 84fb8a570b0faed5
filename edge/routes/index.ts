/**
 * The Worker's routes: the public task API (user token), the runner registry and
 * registration, the runner's own routes (runner credential), Web Push opt-in, and the
 * OpenAPI document.
 */
export { environmentRoutes } from "./environments.ts";
export { openAPIDocument } from "./openapi.ts";
export { runnerRoutes } from "./runner.ts";
export { runnersRoutes } from "./runners.ts";
export { taskRoutes } from "./tasks.ts";
export { artifactPrefix } from "./artifact-names.ts";
export { dataRoutes } from "./data.ts";
export { pushRoutes } from "./push.ts";
export { deleteArtifacts, listArtifacts, sha256Hex } from "./artifact-store.ts";
