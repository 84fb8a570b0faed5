/**
 * The worker's only way to the model: the Anthropic SDK pointed at the runner's proxy on a
 * unix socket, authenticated by the task's token (sent as `Authorization: Bearer`). The SDK
 * retries 408/409/429/5xx/529 with backoff and honours `retry-after`. `streamMessage` streams
 * one call and hands each text delta to the caller.
 *
 * Requests follow today's model (claude-sonnet-5-5): adaptive thinking with
 * `display: "summarized"`, so the model's reasoning and its notes between tool calls (which
 * come back as thinking blocks) have text to show; effort through `output_config.effort`;
 * never a thinking budget, sampling parameters, an assistant prefill, a forced tool choice or
 * disabled thinking, which that model refuses with 400.
 */
import Anthropic from "@anthropic-ai/sdk";
import { DEFAULT_MODEL, type Effort } from "../../shared/task.ts";
import { unixSocketFetch } from "./unix-fetch.ts";

export { DEFAULT_MODEL };
export const MAX_OUTPUT_TOKENS = 16_000;

/** What one call of the tool loop sends besides its messages. */
export interface CallSettings {
  model: string;
  maxTokens: number;
  system: string;
  tools: Anthropic.ToolUnion[];
  effort?: Effort;
}

/**
 * Older models by ID prefix: a 200k-token window and no adaptive thinking or effort, so their
 * requests carry neither (they run as they did). Every other model, today's included, has a
 * 1M-token window and takes both.
 */
const OLDER_MODELS = [
  "claude-haiku-4-5",
  "claude-sonnet-4-5",
  "claude-opus-4-5",
  "claude-opus-4-1",
  // Claude 4.0, by alias (`-4-0`) and dated ID (`-4-20250514`).
  "claude-opus-4-0",
  "claude-opus-4-2",
  "claude-sonnet-4-0",
  "claude-sonnet-4-2",
  "claude-3",
];
const isOlder = (model: string) => OLDER_MODELS.some((prefix) => model.startsWith(prefix));

export function contextWindowOf(model: string): number {
  return isOlder(model) ? 200_000 : 1_000_000;
}

/** The body of one model call: the only place the worker's request settings are made. */
export function requestOf(settings: CallSettings, messages: Anthropic.MessageParam[]): Anthropic.MessageCreateParamsNonStreaming {
  const current = !isOlder(settings.model);
  return {
    model: settings.model,
    max_tokens: settings.maxTokens,
    system: [{ type: "text", text: settings.system, cache_control: { type: "ephemeral" } }],
    ...(settings.tools.length > 0 ? { tools: settings.tools } : {}),
    ...(current ? { thinking: { type: "adaptive", display: "summarized" } as const } : {}),
    ...(current && settings.effort ? { output_config: { effort: settings.effort } } : {}),
    messages,
  };
}

export interface ProxyAccess {
  socketPath: string;
  token: string;
}

export function createModelClient(proxy: ProxyAccess, options: { maxRetries?: number } = {}): Anthropic {
  return new Anthropic({
    // The host is ignored: every request goes to the socket.
    baseURL: "http://model-proxy",
    apiKey: proxy.token,
    fetch: unixSocketFetch(proxy.socketPath),
    maxRetries: options.maxRetries ?? 5,
    timeout: 10 * 60 * 1000,
  });
}

/**
 * Worker-level retries of a call, on top of the SDK's own (which cover only errors before a
 * stream starts): 1, 2, 4, 8, 16, then 30 s apart, about two minutes in all, long enough for
 * a restarted runner to recreate the proxy socket in the mounted directory.
 */
const STREAM_RETRIES = 8;
const MAX_RETRY_DELAY_MS = 30_000;
const MID_STREAM_TRANSIENT = new Set(["overloaded_error", "api_error", "rate_limit_error"]);

/**
 * Errors worth another try: an `error` event inside the SSE stream of a transient type (the
 * SDK raises it as an APIError without a status), a stream whose connection broke off (the
 * proxy went away mid-answer), and a proxy socket that does not answer (yet).
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof Anthropic.APIConnectionError) return true;
  if (err instanceof Anthropic.APIError) {
    if (err.status !== undefined) return false;
    const type = (err.error as { error?: { type?: unknown } } | undefined)?.error?.type;
    return typeof type === "string" && MID_STREAM_TRANSIENT.has(type);
  }
  if (err instanceof Anthropic.AnthropicError) {
    const cause = err.cause;
    // A broken connection surfaces as the SDK's error wrapping Node's "aborted"/"terminated"; bad JSON wraps a SyntaxError.
    return cause instanceof Error && !(cause instanceof SyntaxError) && /aborted|terminated|socket hang up|ECONNRESET|EPIPE/i.test(`${cause.message} ${(cause as NodeJS.ErrnoException).code ?? ""}`);
  }
  return false;
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}

/**
 * Streams one model call, trying again after transient failures (see `isTransient`); the
 * deltas of a broken attempt have gone out already, and the final `agent.text` of the message
 * that completes is what counts.
 */
export async function streamMessage(
  client: Anthropic,
  params: Anthropic.MessageCreateParamsNonStreaming,
  onText: (delta: string) => void,
  signal: AbortSignal,
  retryDelayMs = 1000,
): Promise<Anthropic.Message> {
  for (let attempt = 0; ; attempt++) {
    try {
      const stream = client.messages.stream(params, { signal });
      stream.on("text", onText);
      return await stream.finalMessage();
    } catch (err) {
      if (signal.aborted || attempt >= STREAM_RETRIES || !isTransient(err)) throw err;
      const delay = Math.min(retryDelayMs * 2 ** attempt, MAX_RETRY_DELAY_MS);
      process.stderr.write(`tether-worker: the model call failed (${(err as Error).message}); trying again in ${delay} ms\n`);
      await pause(delay, signal);
    }
  }
}
