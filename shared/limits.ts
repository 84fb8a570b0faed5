/**
 * Size and number bounds enforced at every boundary (edge, runner, worker). Every number in
 * the protocol is finite and bounded: an integer schema (`.int()`, which zod takes as a
 * safe integer) or a `.max()` from here.
 */
export const LIMITS = {
  /** A REST request body. */
  maxBodyBytes: 256 * 1024,
  /** One WebSocket frame from a phone. */
  maxViewerFrameBytes: 64 * 1024,
  /** One WebSocket frame from a runner on its control socket. */
  maxControlFrameBytes: 64 * 1024,
  /** One WebSocket frame from a runner on a task's data socket (a batch of events). */
  maxRunnerFrameBytes: 4 * 1024 * 1024,
  /** One WebSocket frame a runner takes from the edge (an assignment, `attached` with its commands). */
  maxEdgeFrameBytes: 32 * 1024 * 1024,
  /** Events in one replay frame to a viewer. */
  replayFrameEvents: 500,
  /** The bytes of events a replay frame to a viewer stays under (one larger event goes alone). */
  replayFrameBytes: 1024 * 1024,
  /** A task prompt. */
  maxPromptChars: 100_000,
  /** A follow-up message. */
  maxMessageChars: 20_000,
  /** The JSON of one event's `data`. */
  maxEventDataBytes: 64 * 1024,
  /** Events in one runner batch. */
  maxEventsPerBatch: 500,
  /** Command output carried by one `tool.output` event; longer output is chunked. */
  outputChunkBytes: 16 * 1024,
  /** A task request's setup script. */
  maxSetupChars: 20_000,
  /** Saved environments in one account. */
  maxEnvironments: 100,
  /** Extra hosts per phase in an environment's network policy. */
  maxEnvironmentHosts: 50,
  /** An environment's variables, and one variable's value. */
  maxVariables: 100,
  maxVariableChars: 4096,
  /** One line the worker writes on stdout. */
  maxWorkerLineBytes: 128 * 1024,
  /** An artifact uploaded by a runner. */
  maxArtifactBytes: 25 * 1024 * 1024,
  /** Events in one page of `GET /v1/tasks/:id/events`. */
  maxEventsPage: 1000,
  /** Tasks in one page of `GET /v1/tasks`. */
  maxTasksPage: 100,
  maxLabels: 16,
  /** Tokens of one kind in one model call's `usage` event. */
  maxCallTokens: 100_000_000,
  /** The cost of one model call's `usage` event, in USD. */
  maxCallCostUSD: 10_000,
  /** A task's summed cost in USD: sums clamp here (token sums clamp at `Number.MAX_SAFE_INTEGER`). */
  maxTaskCostUSD: 1_000_000_000,
  /** A turn number, and the turns of a task. */
  maxTurn: 1_000_000,
} as const;

/**
 * Caps against abuse. Going over one is `rate_limited`: a 429 on REST, an error frame on a
 * socket (the frame is dropped). Rates of a socket are kept in memory (a token bucket per
 * socket, lost on hibernation, which is harmless); counts per account are read from SQLite.
 */
export const CAPS = {
  /** Events in one task's log (about a long day of a busy agent). */
  maxEventsPerTask: 200_000,
  /** Viewer sockets open on one task at once. */
  maxViewersPerTask: 20,
  /** Frames per second a viewer socket may send, sustained (bursts up to twice that). */
  viewerFramesPerSecond: 50,
  /** Frames per second a runner's data or control socket may send (runners batch events). */
  runnerFramesPerSecond: 1_000,
  /** Follow-up messages to one task per minute, by REST and socket together. */
  followUpsPerMinute: 30,
  /** Tasks of one account that have not reached a terminal status. */
  maxUnfinishedTasksPerAccount: 1_000,
  /** Runners registered to one account. */
  maxRunnersPerAccount: 50,
  /** Unused, unexpired registration tokens of one account. */
  maxOpenRegistrationTokens: 20,
  /** Replay frames a new viewer gets per turn of its room; the rest follow in later turns. */
  replayFramesPerTurn: 8,
} as const;
