/**
 * The client SDK with light checks (`SHAPE_CHECKS`, see `checks.ts`): the same API as
 * `index.ts`, without zod, for bundles that count their bytes (the phone web app). Every
 * export here is free of zod; `index.ts` re-exports them with a client that checks answers
 * with the full zod schemas.
 */
import { SHAPE_CHECKS } from "./shape-checks.ts";
import { TetherClient as ClientCore, type TetherClientOptions } from "./tether-client.ts";

/** A `TetherClient` whose answers and frames pass the light shape checks unless `checks` says otherwise. */
export class TetherClient extends ClientCore {
  constructor(options: TetherClientOptions) {
    super({ ...options, checks: options.checks ?? SHAPE_CHECKS });
  }
}

export type { FetchLike, ListTasksQuery, TetherClientOptions } from "./tether-client.ts";
export type { AccountExportLine, AccountSettings, ArtifactEntry, EventPage, ExportLine, ImportResult, TaskPage } from "../api.ts";
export type { AnswerName, Answers, Checked, Checks } from "./checks.ts";
export { SHAPE_CHECKS } from "./shape-checks.ts";
export { readLines, toNDJSON } from "./ndjson.ts";
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
