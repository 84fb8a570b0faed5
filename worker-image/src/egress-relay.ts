/**
 * The loopback relay: the container's only way to the network. It listens on
 * 127.0.0.1:<port> inside the container (which has no network of its own) and pipes each
 * connection to the runner's egress proxy on a unix socket mounted from the host, where
 * every attempt is decided. Tools find it through the proxy variables the runner sets.
 */
import net from "node:net";

export async function startRelay(socketPath: string, port: number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(socketPath);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once("error", () => upstream.destroy());
    upstream.once("error", () => client.destroy());
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return server;
}

/** The relay as the container's environment describes it, or undefined when it has none. */
export function relayConfig(env: NodeJS.ProcessEnv): { socketPath: string; port: number } | undefined {
  const socketPath = env.TETHER_EGRESS_SOCKET;
  const port = Number(env.TETHER_EGRESS_PORT);
  if (!socketPath || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { socketPath, port };
}
