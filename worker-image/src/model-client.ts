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

export async function streamMessage(
  client: Anthropic,
  params: Anthropic.MessageCreateParamsNonStreaming,
  onText: (delta: string) => void,
  signal: AbortSignal,
): Promise<Anthropic.Message> {
  const stream = client.messages.stream(params, { signal });
  stream.on("text", onText);
  return stream.finalMessage();
}
