import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { relayConfig, startRelay } from "./egress-relay.ts";

describe("the egress relay", () => {
  const servers: net.Server[] = [];
  let dir: string | undefined;
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("pipes a loopback connection to the unix socket and back", async () => {
    dir = await mkdtemp(join(tmpdir(), "tether-relay-"));
    const socketPath = join(dir, "egress.sock");
    const echo = net.createServer((c) => c.on("data", (d: Buffer) => c.end(`echo:${d.toString()}`)));
    servers.push(echo);
    await new Promise<void>((resolve) => echo.listen(socketPath, resolve));
    const relay = await startRelay(socketPath, 0);
    servers.push(relay);
    const port = (relay.address() as net.AddressInfo).port;
    const answer = await new Promise<string>((resolve, reject) => {
      const c = net.connect(port, "127.0.0.1", () => c.write("ping"));
      let text = "";
      c.on("data", (d: Buffer) => (text += d.toString()));
      c.once("end", () => resolve(text));
      c.once("error", reject);
    });
    expect(answer).toBe("echo:ping");
  });

  it("reads its socket and port from the environment, and is off without them", () => {
    expect(relayConfig({ TETHER_EGRESS_SOCKET: "/run/x.sock", TETHER_EGRESS_PORT: "3128" })).toEqual({ socketPath: "/run/x.sock", port: 3128 });
    expect(relayConfig({ TETHER_EGRESS_PORT: "3128" })).toBeUndefined();
    expect(relayConfig({ TETHER_EGRESS_SOCKET: "/run/x.sock", TETHER_EGRESS_PORT: "nope" })).toBeUndefined();
  });
});
