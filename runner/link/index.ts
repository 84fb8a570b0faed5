/**
 * The runner's links to the edge, as the rest of the runner uses them: the control socket
 * (hello, heartbeats, assignments), one data socket per task (events out, acks and commands
 * in) and the artifact upload. Each socket keeps itself connected (edge-socket.ts).
 */
export { ControlLink, type LinkState } from "./control-link.ts";
export { TaskChannel } from "./task-channel.ts";
export { EdgeArtifacts } from "./artifacts.ts";
