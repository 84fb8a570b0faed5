/** Size bounds enforced at every boundary (edge, runner, worker). */
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
} as const;
