/**
 * Egress allowlist rules: `host`, `*.domain` or either with `:port`. A rule without a port
 * allows 443 and 80. Host names compare case-insensitively and without a trailing dot.
 */
import type { Result } from "../ports.ts";

export interface HostRule {
  /** A host name, or `*.` and a domain (which matches its subdomains, not the domain itself). */
  host: string;
  /** Undefined: 443 and 80. */
  port?: number;
}

const DEFAULT_PORTS = [443, 80];
const LABEL = "[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?";
const HOST_PATTERN = new RegExp(`^(\\*\\.)?(${LABEL}\\.)*${LABEL}$|^\\d+\\.\\d+\\.\\d+\\.\\d+$|^\\[[0-9a-f:.]+\\]$`);

export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, "");
}

/** Parses `host`, `*.domain`, `host:port`; a bad rule is an error naming it. */
export function parseHostRule(text: string): Result<HostRule> {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(normalizeHost(text));
  const host = m?.[1] ?? "";
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!HOST_PATTERN.test(host) || host.length > 253) return { ok: false, error: `${JSON.stringify(text)} is not a host, *.domain or host:port` };
  if (port !== undefined && (port < 1 || port > 65535)) return { ok: false, error: `${JSON.stringify(text)} has a port outside 1-65535` };
  return { ok: true, value: port === undefined ? { host } : { host, port } };
}

/** The rule that lets a tool reach `url` (its host, and its port when it names one). */
export function ruleOfURL(url: string): HostRule | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
    const port = u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
    return { host: normalizeHost(u.hostname), port };
  } catch {
    return undefined;
  }
}

export function matchesRule(rule: HostRule, host: string, port: number): boolean {
  const name = normalizeHost(host);
  const hostMatches = rule.host.startsWith("*.") ? name.endsWith(rule.host.slice(1)) : name === rule.host;
  return hostMatches && (rule.port === undefined ? DEFAULT_PORTS.includes(port) : rule.port === port);
}

export function formatRule(rule: HostRule): string {
  return rule.port === undefined ? rule.host : `${rule.host}:${rule.port}`;
}
