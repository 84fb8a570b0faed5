/**
 * The sandboxes a worker runs in, both implementing `Sandbox` from runner/ports.ts: `docker`
 * (one hardened container per task, the default; it can start workers ahead for the pool)
 * and `process` (a child process that isolates nothing, for hosts with no Docker engine).
 */
export { DockerSandbox } from "./docker.ts";
export { poolContainerName, pooledTaskContainerName } from "./docker-warm.ts";
export { ProcessSandbox } from "./process.ts";
