/**
 * IPv4 addresses as u32 numbers (network order), and host rules (an address or a CIDR block)
 * that grant something to the clients whose peer address falls inside: the shape the CA wire
 * format (search replies, beacons) and the `[ca] write_hosts` setting both use.
 *
 * @example
 * ```ts
 * import { hostRuleMatches, ipFromString, ipToString, parseHostRule } from "./ipv4.ts";
 * ipToString(ipFromString("10.0.0.5")!); // "10.0.0.5"
 * const rule = parseHostRule("198.18.0.0/24");
 * typeof rule !== "string" && hostRuleMatches(rule, "198.18.0.2"); // true
 * ```
 *
 * @module
 */

/** Formats an IPv4 address held in a u32 (network order), e.g. 0x7f000001 -> "127.0.0.1". */
export function ipToString(ip: number): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join(".");
}

/** Parses dotted IPv4 text into a u32; returns undefined for anything else. */
export function ipFromString(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** One parsed host rule: an IPv4 network (a single address is a /32). */
export interface HostRule {
  /** The rule as written. */
  text: string;
  /** Network address (host bits cleared). */
  network: number;
  /** Prefix length 0-32. */
  bits: number;
}

function maskOf(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses `198.18.0.2` or `198.18.0.0/24`; returns an error message for anything else (host
 * names are refused: a client's claimed name proves nothing, and DNS may change).
 */
export function parseHostRule(text: string): HostRule | string {
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(text.trim());
  const ip = m ? ipFromString(m[1]!) : undefined;
  const bits = m?.[2] === undefined ? 32 : Number(m[2]);
  if (!m || ip === undefined || bits > 32) {
    return `"${text}" is not an IPv4 address or CIDR block like "198.18.0.2" or "198.18.0.0/24"` +
      " (host names are not accepted: give addresses)";
  }
  return { text: text.trim(), network: (ip & maskOf(bits)) >>> 0, bits };
}

/** True when `address` (dotted IPv4, or its IPv4-mapped IPv6 form) is inside `rule`. */
export function hostRuleMatches(rule: HostRule, address: string): boolean {
  const ip = ipFromString(address.replace(/^::ffff:/i, ""));
  return ip !== undefined && ((ip & maskOf(rule.bits)) >>> 0) === rule.network;
}

/**
 * The broadcast address of an interface, e.g. ("192.168.1.20", "255.255.255.0") ->
 * "192.168.1.255"; undefined when either is not dotted IPv4.
 */
export function broadcastOf(address: string, netmask: string): string | undefined {
  const a = ipFromString(address);
  const mask = ipFromString(netmask);
  if (a === undefined || mask === undefined) return undefined;
  return ipToString((a | ~mask) >>> 0);
}
