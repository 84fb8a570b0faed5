/**
 * The address rule of the egress proxy: which resolved addresses a task may never reach,
 * whatever an allowlist says. Loopback, "this network", private (RFC 1918, CGNAT, IPv6 unique
 * local), link-local (which holds the cloud metadata address 169.254.169.254), multicast,
 * broadcast and reserved ranges are refused; an IPv4 address mapped into IPv6 is judged as
 * the IPv4 address it carries.
 */
import { BlockList, isIP } from "node:net";

const FORBIDDEN_V4: [string, number][] = [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4],
  ["240.0.0.0", 4],
];
const FORBIDDEN_V6: [string, number][] = [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
];
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

const FORBIDDEN = new BlockList();
for (const [net, bits] of FORBIDDEN_V4) FORBIDDEN.addSubnet(net, bits, "ipv4");
for (const [net, bits] of FORBIDDEN_V6) FORBIDDEN.addSubnet(net, bits, "ipv6");

export interface AddressRuleOptions {
  /** Lets loopback addresses through: only for tests that serve a stand-in on 127.0.0.1. */
  allowLoopback?: boolean;
}

/** Why `address` may not be reached, or undefined when it may. */
export function refusalOf(address: string, opts: AddressRuleOptions = {}): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
  const ip = mapped ?? address;
  const type = isIP(ip) === 4 ? "ipv4" : "ipv6";
  if (opts.allowLoopback && LOOPBACK.check(ip, type)) return undefined;
  if (FORBIDDEN.check(ip, type)) return `${address} is a loopback, private, link-local or reserved address`;
  return undefined;
}

/** A host written as an IP address (v4, or v6 with or without brackets). */
export function isIPLiteral(host: string): boolean {
  return isIP(host.replace(/^\[(.*)\]$/, "$1")) !== 0;
}
