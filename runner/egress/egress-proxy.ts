/**
 * The egress proxy: each task's only way out of its container. An HTTP proxy (CONNECT for
 * TLS, absolute-URL requests for plain HTTP) on a unix socket of the task's own, which a
 * relay inside the container (worker-image/src/egress-relay.ts) reaches from 127.0.0.1.
 *
 * Every attempt is decided here, outside the sandbox, in this order:
 *   1. the host and port match a rule of the task's phase (setup: the host's package
 *      registries, the operator's `egressAllow`, the environment's; agent: the environment's
 *      agent hosts only), or a
 *      rule the user allowed for the rest of the task; a task that asks (`ask` mode) asks its
 *      owner, after step 3, about every agent-phase attempt the user's rules do not cover;
 *   2. an IP literal is refused (a loopback literal passes only under `allowLoopback`);
 *   3. the proxy resolves the name itself; if any address is loopback, private, link-local
 *      or reserved (address-rule.ts) the attempt is refused, else it connects to the checked
 *      address, so a name cannot be re-resolved into the host's network.
 * Every attempt becomes one `egress` event (when it ends, with the bytes both ways), and the
 * task's totals are kept. A task's phase only moves forward, setup to agent.
 */
import { lookup } from "node:dns/promises";
import { chmod, mkdir, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { dirname } from "node:path";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { EgressPhase, EgressPort, EgressRegistration, EgressTotals, Result } from "../ports.ts";
import { isIPLiteral, refusalOf } from "./address-rule.ts";
import { type HostRule, matchesRule, normalizeHost, parseHostRule } from "./host-rule.ts";

/** Resolves a host name to its addresses (tests inject one). */
export type Resolver = (host: string) => Promise<string[]>;

export interface EgressProxyOptions {
  resolver?: Resolver;
  /** Lets loopback targets through the address rule: tests with a stand-in on 127.0.0.1 only. */
  allowLoopback?: boolean;
  /** How long a connection to a target may take. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

type Decision = { allowed: true; address: string } | { allowed: false; reason: string };

interface Entry {
  phase: EgressPhase;
  setupRules: HostRule[];
  agentRules: HostRule[];
  allowed: HostRule[];
  totals: EgressTotals;
  server: http.Server;
  sockets: Set<Duplex>;
  socketPath: string;
  onEvent: EgressRegistration["onEvent"];
  ask?: EgressRegistration["ask"];
}

const systemResolver: Resolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

export class EgressProxy implements EgressPort {
  private readonly entries = new Map<string, Entry>();
  private readonly resolve: Resolver;

  constructor(private readonly opts: EgressProxyOptions = {}) {
    this.resolve = opts.resolver ?? systemResolver;
  }

  /** Opens the task's socket at `reg.socketPath`; registering again replaces the server. */
  async register(taskID: string, reg: EgressRegistration): Promise<void> {
    await this.unregister(taskID);
    await mkdir(dirname(reg.socketPath), { recursive: true });
    await chmod(dirname(reg.socketPath), 0o755);
    await rm(reg.socketPath, { force: true });
    const entry: Entry = {
      phase: reg.phase,
      setupRules: [...reg.setupRules],
      agentRules: [...(reg.agentRules ?? [])],
      allowed: [...reg.allowed],
      totals: { allowed: 0, denied: 0, bytes: 0 },
      server: http.createServer(),
      sockets: new Set(),
      socketPath: reg.socketPath,
      onEvent: reg.onEvent,
      ...(reg.ask ? { ask: reg.ask } : {}),
    };
    entry.server.on("connection", (socket: Duplex) => {
      entry.sockets.add(socket);
      socket.once("close", () => entry.sockets.delete(socket));
    });
    entry.server.on("request", (req, res) => void this.forward(entry, req, res));
    entry.server.on("connect", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void this.tunnel(entry, req, socket, head));
    entry.server.on("clientError", (_err, socket: Duplex) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      entry.server.once("error", reject);
      entry.server.listen(reg.socketPath, () => {
        entry.server.off("error", reject);
        resolve();
      });
    });
    // The container's user is another uid; only this task's container has the directory mounted.
    await chmod(reg.socketPath, 0o666);
    this.entries.set(taskID, entry);
  }

  /** Moves the task to `phase`; a task in the agent phase stays there. */
  setPhase(taskID: string, phase: EgressPhase): void {
    const entry = this.entries.get(taskID);
    if (entry && entry.phase !== "agent") entry.phase = phase;
  }

  /** Lets the task reach `rule` (host, *.domain, host:port) in every phase for the rest of its run. */
  allow(taskID: string, rule: string): Result<HostRule> {
    const parsed = parseHostRule(rule);
    if (!parsed.ok) return parsed;
    this.entries.get(taskID)?.allowed.push(parsed.value);
    return parsed;
  }

  totals(taskID: string): EgressTotals | undefined {
    const entry = this.entries.get(taskID);
    return entry && { ...entry.totals };
  }

  async unregister(taskID: string): Promise<void> {
    const entry = this.entries.get(taskID);
    if (!entry) return;
    this.entries.delete(taskID);
    for (const socket of entry.sockets) socket.destroy();
    await new Promise<void>((resolve) => entry.server.close(() => resolve()));
    await rm(entry.socketPath, { force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.keys()].map((id) => this.unregister(id)));
  }

  /** The decision for one attempt; see the file's header for the order. */
  async decide(entry: Pick<Entry, "phase" | "setupRules" | "agentRules" | "allowed" | "ask">, host: string, port: number): Promise<Decision> {
    const userAllowed = entry.allowed.some((rule) => matchesRule(rule, host, port));
    const asks = entry.phase === "agent" && entry.ask !== undefined && !userAllowed;
    const ruled = userAllowed || (entry.phase === "setup" ? entry.setupRules : entry.agentRules).some((rule) => matchesRule(rule, host, port));
    if (!ruled && !asks) return { allowed: false, reason: `${host}:${port} is not allowed in the ${entry.phase} phase` };
    const checked = await this.checkAddress(host);
    if (!checked.allowed || !asks) return checked;
    return (await entry.ask!(host, port)) ? checked : { allowed: false, reason: `the owner declined ${host}:${port}` };
  }

  /** The address rule: no IP literal, a name that resolves to public addresses only. */
  private async checkAddress(host: string): Promise<Decision> {
    const bare = host.replace(/^\[(.*)\]$/, "$1");
    if (isIPLiteral(bare)) {
      const refusal = this.opts.allowLoopback ? refusalOf(bare, { allowLoopback: true }) : "an IP address, not a host name";
      return refusal === undefined ? { allowed: true, address: bare } : { allowed: false, reason: refusal };
    }
    let addresses: string[];
    try {
      addresses = await this.resolve(host);
    } catch (err) {
      return { allowed: false, reason: `${host} does not resolve: ${(err as Error).message}` };
    }
    if (addresses.length === 0) return { allowed: false, reason: `${host} does not resolve` };
    for (const address of addresses) {
      const refusal = refusalOf(address, { allowLoopback: this.opts.allowLoopback });
      if (refusal !== undefined) return { allowed: false, reason: `${host} resolves to ${refusal}` };
    }
    return { allowed: true, address: addresses[0] as string };
  }

  private async tunnel(entry: Entry, req: http.IncomingMessage, client: Duplex, head: Buffer): Promise<void> {
    const target = parseAuthority(req.url ?? "");
    if (!target) {
      client.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      return;
    }
    const decision = await this.decide(entry, target.host, target.port);
    if (!decision.allowed) {
      this.report(entry, target.host, target.port, { allowed: false, bytes: 0, reason: decision.reason });
      client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\ntether egress: ${decision.reason}\n`);
      return;
    }
    let bytes = 0;
    let reported = false;
    const upstream = net.connect({ host: decision.address, port: target.port, timeout: this.opts.connectTimeoutMs ?? 15_000 });
    const end = (reason?: string) => {
      if (reported) return;
      reported = true;
      this.report(entry, target.host, target.port, { allowed: true, bytes, ...(reason ? { reason } : {}) });
      client.destroy();
      upstream.destroy();
    };
    upstream.once("timeout", () => end("the connection timed out"));
    upstream.once("error", (err) => {
      if (!client.destroyed && upstream.bytesRead === 0) client.end("HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n");
      end(err.message);
    });
    upstream.once("connect", () => {
      upstream.setTimeout(0);
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.on("data", (chunk: Buffer) => (bytes += chunk.length));
      client.on("data", (chunk: Buffer) => (bytes += chunk.length));
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.once("close", () => end());
    client.once("close", () => end());
    client.once("error", () => end());
  }

  private async forward(entry: Entry, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
      if (url.protocol !== "http:") throw new Error("not http");
    } catch {
      req.resume();
      res.writeHead(400, { "content-type": "text/plain" }).end("tether egress: a proxy request names an absolute http:// URL\n");
      return;
    }
    const host = normalizeHost(url.hostname);
    const port = url.port ? Number(url.port) : 80;
    const decision = await this.decide(entry, host, port);
    if (!decision.allowed) {
      req.resume();
      this.report(entry, host, port, { allowed: false, bytes: 0, reason: decision.reason });
      res.writeHead(403, { "content-type": "text/plain" }).end(`tether egress: ${decision.reason}\n`);
      return;
    }
    const headers = { ...req.headers };
    for (const name of ["proxy-connection", "proxy-authorization", "connection", "keep-alive"]) delete headers[name];
    let bytes = 0;
    const upstream = http.request({ host: decision.address, port, method: req.method, path: `${url.pathname}${url.search}`, headers, setHost: false, timeout: this.opts.connectTimeoutMs ?? 15_000 });
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    upstream.once("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on("data", (chunk: Buffer) => (bytes += chunk.length));
      answer.pipe(res);
      answer.once("end", () => this.report(entry, host, port, { allowed: true, bytes }));
    });
    upstream.once("timeout", () => upstream.destroy(new Error("the connection timed out")));
    upstream.once("error", (err) => {
      this.report(entry, host, port, { allowed: true, bytes, reason: err.message });
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`tether egress: ${err.message}\n`);
      else res.destroy();
    });
    req.pipe(upstream);
  }

  private report(entry: Entry, host: string, port: number, outcome: { allowed: boolean; bytes: number; reason?: string }): void {
    if (outcome.allowed) entry.totals.allowed += 1;
    else entry.totals.denied += 1;
    entry.totals.bytes += outcome.bytes;
    this.opts.logger?.debug({ phase: entry.phase, host, port, ...outcome }, "egress attempt");
    entry.onEvent({ phase: entry.phase, host, port, ...outcome });
  }
}

/** `host:port` of a CONNECT line (an IPv6 host in brackets); undefined when it is not one. */
function parseAuthority(authority: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s/]+):(\d{1,5})$/.exec(authority);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: normalizeHost(m[1] as string), port };
}
