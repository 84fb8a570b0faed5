/**
 * The Account, one Durable Object per account: task index, runner registry, queue and the
 * runners' control sockets. Other folders see the class and the task list's cursor.
 */
export { Account } from "./account.ts";
export { decodeCursor } from "./task-cursor.ts";
