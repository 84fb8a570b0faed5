/**
 * What the model proxy lets a worker ask of the model provider (internal to the proxy).
 *
 * The container has no network; the provider does. Anything in a request that makes the
 * provider reach out (fetch a URL, call an MCP server, run code in its container, search the
 * web) would be a way out of "no network" for data the agent chooses, so by default the proxy
 * forwards only what a client of the Messages API needs for a tool loop it runs itself:
 *
 * - request fields: `REQUEST_FIELDS` (count_tokens: `COUNT_FIELDS`); any other is refused;
 * - tools: custom tools (no `type`, or `custom`) and Anthropic-defined tools the client
 *   executes (`bash_*`, `text_editor_*`, `computer_*`, `memory_*`); server tools
 *   (`web_search_*`, `web_fetch_*`, `code_execution_*`, `mcp_toolset`, …) are refused;
 * - content blocks in `messages` and `system`: `CONTENT_BLOCK_TYPES`, with images and
 *   documents inline only (a `url` or `file` source is fetched by the provider);
 * - `anthropic-beta` values: none (`ALLOWED_BETAS`);
 * - the query: none, or `?beta=true` as the SDK's beta client sends it.
 *
 * With `serverTools` (the runner's `modelServerTools` setting) the operator lets the provider
 * do all of that: `mcp_servers` and `container` are allowed, and tools, blocks, sources and
 * beta values are not checked. Unknown fields are refused either way.
 *
 * A refusal is a string that names what was refused; the proxy answers it with a 400
 * `invalid_request_error`.
 */

export interface RequestPolicy {
  serverTools: boolean;
}

const REQUEST_FIELDS = new Set([
  "model",
  "messages",
  "system",
  "max_tokens",
  "tools",
  "tool_choice",
  "thinking",
  "output_config",
  "metadata",
  "stream",
  "stop_sequences",
  "temperature",
  "top_p",
  "top_k",
  "context_management",
]);
const COUNT_FIELDS = new Set(["model", "messages", "system", "tools", "tool_choice", "thinking", "output_config", "context_management"]);
/** Fields that exist only to drive the provider's server-side tools. */
const SERVER_TOOL_FIELDS = new Set(["mcp_servers", "container"]);
const CLIENT_TOOL_TYPE = /^(bash|text_editor|computer|memory)_\d{8}$/;
const CONTENT_BLOCK_TYPES = new Set(["text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "search_result"]);
const INLINE_SOURCE_TYPES = new Set(["base64", "text", "content"]);
const ALLOWED_BETAS = new Set<string>();
const OFF = "server-side tools are off on this runner (modelServerTools)";

/** Why the request to `path` with query `search` and this `anthropic-beta` header is refused, if it is. */
export function refuseHeaders(search: string, beta: string | string[] | undefined, policy: RequestPolicy): string | undefined {
  if (search !== "" && search !== "?beta=true") return `the query ${JSON.stringify(search)} is refused: only ?beta=true is forwarded`;
  if (beta === undefined || policy.serverTools) return undefined;
  const values = (Array.isArray(beta) ? beta : [beta]).flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
  const refused = values.filter((v) => !ALLOWED_BETAS.has(v));
  if (refused.length > 0) return `the anthropic-beta value${refused.length > 1 ? "s" : ""} ${refused.join(", ")} ${refused.length > 1 ? "are" : "is"} refused: ${OFF}`;
  return undefined;
}

/** Why this request body is refused, if it is. `countTokens`: the body of `/v1/messages/count_tokens`. */
export function refuseBody(body: Record<string, unknown>, countTokens: boolean, policy: RequestPolicy): string | undefined {
  const fields = countTokens ? COUNT_FIELDS : REQUEST_FIELDS;
  for (const key of Object.keys(body)) {
    if (fields.has(key)) continue;
    if (SERVER_TOOL_FIELDS.has(key)) {
      if (policy.serverTools) continue;
      return `the request field ${key} is refused: ${OFF}`;
    }
    return `the request field ${key} is refused: the model proxy forwards only ${[...fields].join(", ")}`;
  }
  if (policy.serverTools) return undefined;
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools) {
      const type = isObject(tool) ? tool.type : undefined;
      if (type === undefined || type === "custom" || (typeof type === "string" && CLIENT_TOOL_TYPE.test(type))) continue;
      return `the tool type ${JSON.stringify(type)} is refused: ${OFF}; custom tools and client tools (bash_*, text_editor_*, computer_*, memory_*) are forwarded`;
    }
  }
  if (Array.isArray(body.system)) {
    const refused = refuseBlocks(body.system, "system");
    if (refused) return refused;
  }
  if (Array.isArray(body.messages)) {
    for (const [i, message] of body.messages.entries()) {
      if (isObject(message) && Array.isArray(message.content)) {
        const refused = refuseBlocks(message.content, `messages[${i}]`);
        if (refused) return refused;
      }
    }
  }
  return undefined;
}

/** Content blocks, and the blocks nested in tool results, search results and content documents. */
function refuseBlocks(blocks: unknown[], where: string): string | undefined {
  for (const block of blocks) {
    if (!isObject(block)) continue;
    const type = block.type;
    if (typeof type !== "string" || !CONTENT_BLOCK_TYPES.has(type)) {
      return `the content block type ${JSON.stringify(type)} in ${where} is refused: ${OFF}`;
    }
    if ((type === "image" || type === "document") && isObject(block.source)) {
      const source = block.source.type;
      if (typeof source !== "string" || !INLINE_SOURCE_TYPES.has(source)) {
        return `the ${type} source type ${JSON.stringify(source)} in ${where} is refused: the provider would fetch it; send the ${type} inline (base64)`;
      }
      if (Array.isArray(block.source.content)) {
        const refused = refuseBlocks(block.source.content, where);
        if (refused) return refused;
      }
    }
    if ((type === "tool_result" || type === "search_result") && Array.isArray(block.content)) {
      const refused = refuseBlocks(block.content, where);
      if (refused) return refused;
    }
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
