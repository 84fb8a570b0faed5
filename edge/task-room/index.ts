/**
 * The TaskRoom, one Durable Object per task: its event log, its lease and its sockets.
 * Other folders see only the class (the Worker exports it; stubs are typed by it).
 */
export { TaskRoom } from "./task-room.ts";
