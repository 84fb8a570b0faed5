/**
 * The Tether client SDK: typed REST calls for every public route, a resuming task stream,
 * and pure helpers to show a task (activity feed, diff, terminal colours). Needs only
 * `fetch` and `WebSocket`, so browsers, React Native and Node (with `ws`) can all use it.
 */
export { TetherClient, type FetchLike, type ListTasksQuery, type TetherClientOptions } from "./tether-client.ts";
export type { EventPage, TaskPage } from "../api.ts";
export {
  TaskStream,
  type ConnectionState,
  type KnownEvent,
  type SocketFactory,
  type SocketLike,
  type TaskStreamListeners,
  type TaskStreamOptions,
} from "./task-stream.ts";
export { TetherError } from "./errors.ts";
export { backoffDelay } from "../backoff.ts";
export { applyEvents, EMPTY_FEED, MAX_TOOL_OUTPUT_CHARS, type Feed, type FeedItem, type ToolOutput } from "./feed.ts";
export { parseDiff, type DiffFile, type DiffHunk, type DiffLine } from "./diff.ts";
export { ansiToSpans, stripAnsi, ANSI_PALETTE, type AnsiSpan, type AnsiStyle } from "./ansi.ts";
