/**
 * Thinking blocks as the current models hand them out and take them back. A block's
 * `signature` is `<sha256 of the full thinking>.<HMAC>`, the HMAC taken over the model, the
 * conversation, the full thinking's hash and the text the block was returned with, so a block
 * sent back with another text, to another model or in another conversation does not verify.
 * The conversation is named by a hash of its first message. The stand-in also remembers which
 * thinking blocks each of its answers held (by the answer's other blocks) and refuses a history
 * that drops or reorders them.
 */
import { createHash, createHmac } from "node:crypto";

/** How a request asks for thinking, after the API's defaults. */
export interface ThinkingMode {
  /** `adaptive` thinks up front and between tools; `between_tools` only between tools. */
  type: "adaptive" | "between_tools";
  /** `omitted` returns thinking blocks with an empty text; `summarized` returns their text. */
  display: "omitted" | "summarized";
}

type Block = { type?: unknown; thinking?: unknown; signature?: unknown; [key: string]: unknown };
type Message = { role?: unknown; content?: unknown };

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");

/** The thinking mode of a valid request body: no `thinking` field means adaptive, display omitted. */
export function thinkingModeOf(body: Record<string, unknown>): ThinkingMode {
  const thinking = body.thinking as { type?: string; display?: string } | undefined;
  if (thinking?.type === "between_tools") return { type: "between_tools", display: "summarized" };
  return { type: "adaptive", display: thinking?.display === "summarized" ? "summarized" : "omitted" };
}

/** The conversation a request belongs to: its first message, as blocks and without cache marks. */
export function conversationOf(body: Record<string, unknown>): string {
  const content = (body.messages as Message[])[0]?.content;
  const blocks = typeof content === "string" ? [{ type: "text", text: content }] : ((content ?? []) as Block[]);
  return sha256(JSON.stringify(blocks.map(({ cache_control: _mark, ...rest }) => rest)));
}

export class ThinkingSigner {
  /** Conversation → fingerprint of an answer's other blocks → the signatures of its thinking blocks, in order. */
  private readonly issued = new Map<string, Map<string, string[]>>();

  constructor(private readonly secret: string) {}

  sign(model: string, conversation: string, full: string, shown: string): string {
    const hash = sha256(full);
    return `${hash}.${this.mac(model, conversation, hash, shown)}`;
  }

  /** Remembers the thinking blocks of an answer the stand-in sent. */
  remember(conversation: string, content: Block[]): void {
    const signatures = content.filter((b) => b.type === "thinking").map((b) => String(b.signature));
    if (signatures.length === 0) return;
    const answers = this.issued.get(conversation) ?? new Map<string, string[]>();
    answers.set(fingerprintOf(content), signatures);
    this.issued.set(conversation, answers);
  }

  /** The problem with the thinking blocks of a request's history, or null. */
  check(body: Record<string, unknown>): string | null {
    const model = String(body.model);
    const conversation = conversationOf(body);
    const messages = body.messages as Message[];
    for (const [i, message] of messages.entries()) {
      if (message.role !== "assistant" || !Array.isArray(message.content)) continue;
      const blocks = message.content as Block[];
      for (const [j, block] of blocks.entries()) {
        if (block.type !== "thinking") continue;
        if (typeof block.thinking !== "string" || typeof block.signature !== "string") {
          return `messages.${i}.content.${j}: a thinking block needs the string fields thinking and signature`;
        }
        if (!this.verifies(model, conversation, block.thinking, block.signature)) {
          return `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block: thinking blocks must be passed back unmodified, to the model and in the conversation that produced them`;
        }
      }
      const expected = this.issued.get(conversation)?.get(fingerprintOf(blocks));
      const sent = blocks.filter((b) => b.type === "thinking").map((b) => String(b.signature));
      if (expected !== undefined && expected.join(" ") !== sent.join(" ")) {
        return `messages.${i}: the thinking blocks of this assistant message were changed, dropped or reordered; send every thinking block back unmodified and in its original order`;
      }
    }
    return null;
  }

  private verifies(model: string, conversation: string, shown: string, signature: string): boolean {
    const [hash, mac] = signature.split(".");
    if (!hash || !mac) return false;
    return mac === this.mac(model, conversation, hash, shown);
  }

  private mac(model: string, conversation: string, hash: string, shown: string): string {
    return createHmac("sha256", this.secret).update(`${model}\n${conversation}\n${hash}\n${shown}`).digest("base64url");
  }
}

/** An answer's blocks other than thinking, as the client sends them back (no cache marks). */
function fingerprintOf(content: Block[]): string {
  return JSON.stringify(
    content
      .filter((b) => b.type !== "thinking" && b.type !== "redacted_thinking")
      .map((b) => (b.type === "tool_use" ? { type: "tool_use", id: b.id } : { type: b.type, text: b.text })),
  );
}
