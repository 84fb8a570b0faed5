/**
 * A TCP relay on 127.0.0.1 between the runner and the edge, for link faults: `cut()` drops
 * every open connection (the listener stays, so the runner can dial again at once),
 * `refuse()` drops them and stops listening (connections are refused), `accept()` listens
 * again on the same port. The edge's port is read at each new connection, so an edge that
 * restarts on its port is reached again.
 */
import { createServer, type Server, type Socket, connect } from "node:net";

export class TCPRelay {
  #server: Server | null = null;
  readonly #open = new Set<Socket>();
  port = 0;

  constructor(readonly targetPort: () => number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async accept(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => this.#pipe(client));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: this.port }, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  #pipe(client: Socket): void {
    const upstream = connect({ host: "127.0.0.1", port: this.targetPort() });
    this.#open.add(client);
    this.#open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.#open.delete(client);
      this.#open.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on("error", drop);
      s.on("close", drop);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** Drops every open connection; returns how many pairs there were. */
  cut(): number {
    const n = this.#open.size / 2;
    for (const s of [...this.#open]) s.destroy();
    this.#open.clear();
    return n;
  }

  /** Drops every connection and stops listening: the link refuses connections. */
  async refuse(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    this.cut();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.refuse();
  }
}
