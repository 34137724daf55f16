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
 * import { writePolicy } from "./access.ts";
 * const p = writePolicy({ write: "loopback", writeHosts: ["198.18.0.0/24"] });
 * p.mayWrite("127.0.0.1"); // true
 * p.mayWrite("198.18.0.2"); // true
 * p.mayWrite("203.0.113.5"); // false
 * ```
 *
 * @module
 */
import type { CaWriteMode } from "../../config/schema.ts";
import { type HostRule, hostRuleMatches, parseHostRule } from "../../device/ipv4.ts";
import { isLoopback } from "../listen.ts";

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
  const inHosts = (address: string) => hosts.some((r) => hostRuleMatches(r, address));
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
