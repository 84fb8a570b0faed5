/**
 * Reads the token usage of one Messages API response as it streams past (internal to the
 * model proxy). JSON responses carry `usage` at the top; SSE streams carry it in
 * `message_start` (input, cache, first output count) and `message_delta` (cumulative output,
 * sometimes cumulative input too), so the last value seen of each count wins. A stream that
 * breaks off before its `message_delta` has an output count that is not final (`complete`).
 */
import type { TokenCounts } from "./prices.ts";

/** Enough for any non-streamed message; a bigger body is passed through unread. */
const MAX_JSON_BYTES = 16 * 1024 * 1024;
/** SSE lines that carry usage are short; longer ones (big deltas) are skipped. */
const MAX_SSE_LINE_BYTES = 1024 * 1024;

export interface CallUsage {
  model: string | undefined;
  tokens: TokenCounts;
  /** The counts are the call's final ones: the whole JSON body, or an SSE `message_delta`, was read. */
  complete: boolean;
}

interface RawUsage {
  input_tokens?: unknown;
  output_tokens?: unknown;
  cache_creation_input_tokens?: unknown;
  cache_read_input_tokens?: unknown;
}

export class UsageReader {
  private model: string | undefined;
  private tokens: TokenCounts | undefined;
  private chunks: Buffer[] = [];
  private size = 0;
  private overflow = false;
  private partial = "";
  private complete = false;

  constructor(private readonly kind: "json" | "sse") {}

  static forContentType(contentType: string | undefined): UsageReader | undefined {
    if (!contentType) return undefined;
    if (contentType.includes("text/event-stream")) return new UsageReader("sse");
    if (contentType.includes("application/json")) return new UsageReader("json");
    return undefined;
  }

  write(chunk: Buffer): void {
    if (this.kind === "json") {
      if (this.overflow) return;
      this.size += chunk.byteLength;
      if (this.size > MAX_JSON_BYTES) {
        this.overflow = true;
        this.chunks = [];
        return;
      }
      this.chunks.push(chunk);
      return;
    }
    const text = this.partial + chunk.toString("utf8");
    const lines = text.split("\n");
    this.partial = lines.pop() ?? "";
    if (this.partial.length > MAX_SSE_LINE_BYTES) this.partial = "";
    for (const line of lines) this.readSSELine(line);
  }

  /** The usage of the whole call, or undefined when the response carried none. */
  end(): CallUsage | undefined {
    if (this.kind === "json" && !this.overflow) {
      const body = parseJSON(Buffer.concat(this.chunks).toString("utf8"));
      if (isObject(body)) {
        if (typeof body.model === "string") this.model = body.model;
        if (isObject(body.usage)) {
          this.merge(body.usage);
          this.complete = true;
        }
      }
    } else if (this.kind === "sse" && this.partial) {
      this.readSSELine(this.partial);
      this.partial = "";
    }
    return this.tokens && { model: this.model, tokens: this.tokens, complete: this.complete };
  }

  private readSSELine(line: string): void {
    if (!line.startsWith("data:")) return;
    const event = parseJSON(line.slice(5).trim());
    if (!isObject(event)) return;
    if (event.type === "message_start" && isObject(event.message)) {
      if (typeof event.message.model === "string") this.model = event.message.model;
      if (isObject(event.message.usage)) this.merge(event.message.usage);
    } else if (event.type === "message_delta" && isObject(event.usage)) {
      this.merge(event.usage);
      this.complete = true;
    }
  }

  private merge(u: RawUsage): void {
    const t = this.tokens ?? { inputTokens: 0, outputTokens: 0, cacheWriteTokens: 0, cacheReadTokens: 0 };
    this.tokens = {
      inputTokens: count(u.input_tokens) ?? t.inputTokens,
      outputTokens: count(u.output_tokens) ?? t.outputTokens,
      cacheWriteTokens: count(u.cache_creation_input_tokens) ?? t.cacheWriteTokens,
      cacheReadTokens: count(u.cache_read_input_tokens) ?? t.cacheReadTokens,
    };
  }
}

function count(v: unknown): number | undefined {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
