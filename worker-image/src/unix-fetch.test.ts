import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { unixSocketFetch } from "./unix-fetch.ts";

let dir: string;
let server: Server;
let socketPath: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "unix-fetch-"));
  socketPath = join(dir, "s.sock");
  server = createServer(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    if (req.url === "/slow") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("first ");
      setTimeout(() => res.end("second"), 200);
      return;
    }
    if (req.url === "/hang") return;
    res.writeHead(201, { "content-type": "application/json", "x-one": "1" });
    res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization }));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe("unixSocketFetch", () => {
  it("sends method, path, headers and body to the socket whatever the host", async () => {
    const res = await unixSocketFetch(socketPath)("http://proxy/v1/messages?beta=true", { method: "POST", headers: { authorization: "Bearer t" }, body: '{"a":1}' });
    expect(res.status).toBe(201);
    expect(res.headers.get("x-one")).toBe("1");
    expect(await res.json()).toEqual({ method: "POST", url: "/v1/messages?beta=true", body: '{"a":1}', auth: "Bearer t" });
  });

  it("streams the body as it arrives", async () => {
    const res = await unixSocketFetch(socketPath)("http://proxy/slow");
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("first ");
    expect(await new Response(new ReadableStream({ pull: async (c) => { const r = await reader.read(); if (r.done) c.close(); else c.enqueue(r.value); } })).text()).toBe("second");
  });

  it("rejects on abort and when nothing listens", async () => {
    const controller = new AbortController();
    const pending = unixSocketFetch(socketPath)("http://proxy/hang", { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toThrow();
    await expect(unixSocketFetch(join(dir, "none.sock"))("http://proxy/")).rejects.toThrow(/none\.sock/);
  });
});
