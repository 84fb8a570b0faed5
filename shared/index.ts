/** The protocol shared by the edge, the runner and the worker. */
export * from "./budget.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./limits.ts";
export * from "./protocol.ts";
export * from "./task.ts";
export * from "./environment.ts";
export * from "./api.ts";
export * from "./sockets.ts";
export * from "./approvals.ts";
