/**
 * Who may write through the CA server, in the spirit of EPICS access security host groups:
 * `[ca] write = "none" | "loopback" | "all"` (default `"loopback"`) plus `[ca] write_hosts`, a
 * list of IPv4 addresses and CIDR blocks whose clients may write too. The client's address is
 * the TCP peer address of its circuit, never the HOST_NAME it claims (any client can claim any
 * name). A client that may not write sees read-only access rights on every channel, and a write
 * it sends anyway is refused with ECA_NOWTACCESS.
 *
 * @example
 * ```ts
 * import { writePolicy } from "./server_access.ts";
 * const p = writePolicy({ write: "loopback", writeHosts: ["198.18.0.0/24"] });
 * p.mayWrite("127.0.0.1"); // true
 * p.mayWrite("198.18.0.2"); // true
 * p.mayWrite("203.0.113.5"); // false
 * ```
 *
 * @module
 */
import { ipFromString } from "./protocol.ts";

/** Who may write regardless of `write_hosts`. */
export type CaWriteMode = "none" | "loopback" | "all";

/** The write modes, in the order help texts list them. */
export const WRITE_MODES: readonly CaWriteMode[] = ["none", "loopback", "all"];

/** One parsed host rule: an IPv4 network (a single address is a /32). */
export interface HostRule {
  /** The rule as written. */
  text: string;
  /** Network address (host bits cleared). */
  network: number;
  /** Prefix length 0–32. */
  bits: number;
}

/**
 * Parses `198.18.0.2` or `198.18.0.0/24`; returns an error message for anything else (host
 * names are refused: a CA client's claimed name proves nothing, and DNS may change).
 */
export function parseHostRule(text: string): HostRule | string {
  const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(text.trim());
  const ip = m ? ipFromString(m[1]!) : undefined;
  const bits = m?.[2] === undefined ? 32 : Number(m[2]);
  if (!m || ip === undefined || bits > 32) {
    return `"${text}" is not an IPv4 address or CIDR block like "198.18.0.2" or "198.18.0.0/24"` +
      " (host names are not accepted: give addresses)";
  }
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { text: text.trim(), network: (ip & mask) >>> 0, bits };
}

/** A decided write policy. */
export interface WritePolicy {
  /** The mode. */
  readonly mode: CaWriteMode;
  /** Extra hosts allowed to write. */
  readonly hosts: readonly HostRule[];
  /** True when a client at `address` (its TCP peer address) may write. */
  mayWrite(address: string): boolean;
  /** Who may write, in words, for the start-up line. */
  describe(): string;
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^::ffff:/i, "");
  return a === "::1" || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** Builds the policy; host rules must already be valid (see {@linkcode parseHostRule}). */
export function writePolicy(
  options: { write?: CaWriteMode; writeHosts?: readonly string[] } = {},
): WritePolicy {
  const mode = options.write ?? "loopback";
  const hosts = (options.writeHosts ?? []).map((h) => {
    const r = parseHostRule(h);
    if (typeof r === "string") throw new TypeError(r);
    return r;
  });
  const inHosts = (address: string) => {
    const ip = ipFromString(address.replace(/^::ffff:/i, ""));
    if (ip === undefined) return false;
    return hosts.some((r) => {
      const mask = r.bits === 0 ? 0 : (0xffffffff << (32 - r.bits)) >>> 0;
      return ((ip & mask) >>> 0) === r.network;
    });
  };
  return {
    mode,
    hosts,
    mayWrite(address) {
      if (mode === "all") return true;
      if (mode === "loopback" && isLoopback(address)) return true;
      return inHosts(address);
    },
    describe() {
      const list = hosts.map((h) => h.text).join(", ");
      switch (mode) {
        case "all":
          return "every client may write";
        case "loopback":
          return hosts.length
            ? `clients on loopback and ${list} may write; others are read-only`
            : "clients on loopback may write; others are read-only";
        case "none":
          return hosts.length
            ? `clients at ${list} may write; others are read-only`
            : "no client may write (read-only)";
      }
    },
  };
}
