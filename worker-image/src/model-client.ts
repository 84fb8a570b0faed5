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

/** The body of one model call: the only place the worker's request settings are made. */
export function requestOf(settings: CallSettings, messages: Anthropic.MessageParam[]): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: settings.model,
    max_tokens: settings.maxTokens,
    system: [{ type: "text", text: settings.system, cache_control: { type: "ephemeral" } }],
    ...(settings.tools.length > 0 ? { tools: settings.tools } : {}),
    thinking: { type: "adaptive", display: "summarized" },
    ...(settings.effort ? { output_config: { effort: settings.effort } } : {}),
    messages,
  };
}

/** Context windows in tokens by model prefix; a model not listed gets `DEFAULT_CONTEXT_WINDOW`. */
const CONTEXT_WINDOWS: [prefix: string, tokens: number][] = [
  ["claude-haiku-4-5", 200_000],
  ["claude-sonnet-4-5", 200_000],
  ["claude-opus-4-5", 200_000],
  ["claude-opus-4-1", 200_000],
  ["claude-3", 200_000],
];
const DEFAULT_CONTEXT_WINDOW = 1_000_000;

export function contextWindowOf(model: string): number {
  return CONTEXT_WINDOWS.find(([prefix]) => model.startsWith(prefix))?.[1] ?? DEFAULT_CONTEXT_WINDOW;
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
