/**
 * The sandboxes a worker runs in, both implementing `Sandbox` from runner/ports.ts: `docker`
 * (one hardened container per task, the default) and `process` (a child process that
 * isolates nothing, for hosts with no Docker engine).
 */
export { DockerSandbox } from "./docker.ts";
export { ProcessSandbox } from "./process.ts";
