/**
 * Checks a Messages API request body the way the real API does for the parts the worker
 * relies on: required fields, alternating roles, every `tool_use` answered by a `tool_result`
 * in the next user message, and the settings today's models refuse (a thinking budget,
 * sampling parameters, an assistant prefill, a forced tool choice, `thinking: {"type":
 * "disabled"}`) along with the accepted `thinking`, `display` and `output_config.effort`
 * values. Returns the problem, or null when the body is fine.
 */

type Block = { type?: unknown; id?: unknown; tool_use_id?: unknown };
type Message = { role?: unknown; content?: unknown };

function blocksOf(content: unknown): Block[] {
  if (typeof content === "string") return [{ type: "text" }];
  return Array.isArray(content) ? (content as Block[]) : [];
}

const EFFORTS = ["low", "medium", "high", "xhigh", "max"];

/** The problem with the settings today's models refuse or restrict, or null. */
export function refusedSetting(b: Record<string, unknown>): string | null {
  const thinking = b.thinking as Record<string, unknown> | undefined;
  if (thinking !== undefined) {
    if (typeof thinking !== "object" || thinking === null) return "thinking: must be an object";
    if (thinking.budget_tokens !== undefined || thinking.type === "enabled") {
      return "thinking.budget_tokens: thinking budgets are not supported on this model; set output_config.effort to control how much it thinks";
    }
    if (thinking.type === "disabled") return 'thinking.type: "disabled" is not supported on this model; send {"type": "between_tools"} to turn off up-front thinking';
    if (thinking.type !== "adaptive" && thinking.type !== "between_tools") return 'thinking.type: must be "adaptive" or "between_tools"';
    if (thinking.display !== undefined && thinking.display !== null && thinking.display !== "summarized" && thinking.display !== "omitted") {
      return 'thinking.display: must be "summarized" or "omitted"';
    }
  }
  for (const key of ["temperature", "top_p", "top_k"]) {
    if (b[key] !== undefined) return `${key}: sampling parameters (temperature, top_p, top_k) are not supported on this model`;
  }
  const choice = b.tool_choice as { type?: unknown } | undefined;
  if (choice?.type === "tool" || choice?.type === "any") {
    return `tool_choice.type: forced tool use ("${String(choice.type)}") is not supported on this model; use "auto" or "none"`;
  }
  const effort = (b.output_config as { effort?: unknown } | undefined)?.effort;
  if (effort !== undefined && effort !== null && !EFFORTS.includes(String(effort))) return `output_config.effort: must be one of ${EFFORTS.join(", ")}`;
  if (thinking?.type === "between_tools" && (effort === "xhigh" || effort === "max")) {
    return `thinking.type: "between_tools" is not available at effort ${String(effort)}; use adaptive thinking`;
  }
  // A prefill is assistant text at the end; a paused turn sent back to go on ends in another block.
  const last = (b.messages as Message[]).at(-1);
  const lastBlock = typeof last?.content === "string" ? { type: "text" } : blocksOf(last?.content).at(-1);
  if (last?.role === "assistant" && lastBlock?.type === "text") {
    return "messages: assistant message prefill is not supported on this model; the conversation must end with a user message";
  }
  return null;
}

export function validateRequest(body: unknown): string | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "body: must be a JSON object";
  const b = body as Record<string, unknown>;
  if (typeof b.model !== "string" || b.model.length === 0) return "model: Field required";
  if (typeof b.max_tokens !== "number" || !Number.isInteger(b.max_tokens) || b.max_tokens < 1) {
    return "max_tokens: Field required (a positive integer)";
  }
  if (!Array.isArray(b.messages) || b.messages.length === 0) return "messages: at least one message is required";
  const messages = b.messages as Message[];
  for (const [i, m] of messages.entries()) {
    if (m === null || typeof m !== "object") return `messages.${i}: must be an object`;
    if (m.role !== "user" && m.role !== "assistant") return `messages.${i}.role: must be "user" or "assistant"`;
    if (typeof m.content !== "string" && !Array.isArray(m.content)) return `messages.${i}.content: Field required`;
    if (Array.isArray(m.content) && m.content.length === 0) return `messages.${i}.content: must not be empty`;
    if (i === 0 && m.role !== "user") return "messages.0.role: the first message must use the user role";
    if (i > 0 && messages[i - 1]?.role === m.role) return `messages.${i}.role: roles must alternate between "user" and "assistant"`;
  }
  for (const [i, m] of messages.entries()) {
    const uses = blocksOf(m.content).filter((x) => x.type === "tool_use");
    const results = blocksOf(m.content).filter((x) => x.type === "tool_result");
    if (m.role === "assistant" && results.length > 0) return `messages.${i}: tool_result blocks belong in user messages`;
    if (m.role === "user" && uses.length > 0) return `messages.${i}: tool_use blocks belong in assistant messages`;
    if (m.role === "assistant" && uses.length > 0) {
      const next = messages[i + 1];
      if (next === undefined) return `messages.${i}: tool_use ids were found without tool_result blocks immediately after`;
      const answered = new Set(blocksOf(next.content).filter((x) => x.type === "tool_result").map((x) => x.tool_use_id));
      for (const use of uses) {
        if (!answered.has(use.id)) {
          return `messages.${i + 1}: tool_use id ${String(use.id)} has no tool_result block immediately after it`;
        }
      }
    }
    if (m.role === "user" && results.length > 0) {
      const prev = messages[i - 1];
      const asked = new Set(blocksOf(prev?.content).filter((x) => x.type === "tool_use").map((x) => x.id));
      for (const result of results) {
        if (!asked.has(result.tool_use_id)) {
          return `messages.${i}: unexpected tool_use_id ${String(result.tool_use_id)} in tool_result; each tool_result needs a tool_use in the previous message`;
        }
      }
    }
  }
  if (b.stream !== undefined && typeof b.stream !== "boolean") return "stream: must be a boolean";
  return refusedSetting(b);
}
