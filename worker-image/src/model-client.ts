/**
 * The worker's only way to the model: the Anthropic SDK pointed at the runner's proxy on a
 * unix socket, authenticated by the task's token (sent as `Authorization: Bearer`). The SDK
 * retries 408/409/429/5xx/529 with backoff and honours `retry-after`. `streamMessage` streams
 * one call and hands each text delta to the caller.
 */
import Anthropic from "@anthropic-ai/sdk";
import { unixSocketFetch } from "./unix-fetch.ts";

/** A current Sonnet from the SDK's own model list, not in its deprecated list. */
export const DEFAULT_MODEL = "claude-sonnet-5-5";
export const MAX_OUTPUT_TOKENS = 16_000;

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

/** Retries of a call whose stream broke off with a transient API error (the SDK retries only before the stream). */
const MID_STREAM_RETRIES = 3;
const MID_STREAM_TRANSIENT = new Set(["overloaded_error", "api_error", "rate_limit_error"]);

/** An `error` event inside an SSE stream: the SDK raises it as an APIError without a status. */
export function isMidStreamTransient(err: unknown): boolean {
  if (!(err instanceof Anthropic.APIError) || err instanceof Anthropic.APIConnectionError || err.status !== undefined) return false;
  const type = (err.error as { error?: { type?: unknown } } | undefined)?.error?.type;
  return typeof type === "string" && MID_STREAM_TRANSIENT.has(type);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}

/**
 * Streams one model call. A stream that breaks off with a transient error is tried again
 * (1 s, 2 s, 4 s); the deltas of the broken attempt have gone out already, and the final
 * `agent.text` of the message that completes is what counts.
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
      if (signal.aborted || attempt >= MID_STREAM_RETRIES || !isMidStreamTransient(err)) throw err;
      process.stderr.write(`tether-worker: the model's stream broke off (${(err as Error).message}); trying again\n`);
      await pause(retryDelayMs * 2 ** attempt, signal);
    }
  }
}
