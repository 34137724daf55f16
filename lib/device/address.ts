/**
 * Device addresses: `scheme://target?option=value`, e.g. `baratron://10.0.0.5:8081?timeout=2s`,
 * `sim://gauge?seed=3`, `ca://XXX:m1.VAL`. The target is kept as text because EPICS PV names
 * are not URL hosts.
 *
 * @module
 */
import { UsageError } from "./errors.ts";
import { splitHostPort } from "./host_port.ts";
import { isVisa, visaToAddress } from "./visa.ts";
import { type Address, NO_PARAMS } from "./plain_address.ts";

export { type Address, hasOptions, plainAddresses } from "./plain_address.ts";

/** True when `text` looks like an address (`scheme://...`) rather than a device name. */
export function isAddress(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text) || isVisa(text);
}

/**
 * Parses `text` when it is an address (as {@linkcode isAddress} says), or returns undefined for
 * a device name. A well-formed `scheme://target` is matched once, not once to tell and again to
 * parse (a read of a thousand `ca://` targets asks for each).
 *
 * @example
 * ```ts
 * import { addressOf } from "./address.ts";
 * addressOf("ca://XXX:m1.VAL")?.target; // "XXX:m1.VAL"
 * addressOf("gauge"); // undefined
 * ```
 */
export function addressOf(text: string): Address | undefined {
  const plain = plainAddress(text);
  if (plain !== undefined) return plain;
  // Untrimmed, as isAddress reads it (a leading space makes a name); anything unusual, a
  // trailing space included, takes the long way.
  const m = ADDRESS.exec(text);
  if (m && m[2] !== "" && text.trimEnd() === text) {
    const a = fromMatch(text, m);
    if (m[1] === a.scheme) lastScheme = a.scheme;
    return a;
  }
  return isAddress(text) ? parseAddress(text) : undefined;
}

/** The scheme of the last address read as written (lower case): the next is likely the same. */
let lastScheme = "";

/**
 * `text` as an address of the last scheme seen, when it is the simplest kind -
 * `scheme://target` with no options, fragment, %-escape or space at its end - read without the
 * regular expression (half the cost of resolving a target of a read of a thousand `ca://` PVs,
 * in code that runs once): the same {@linkcode Address} as {@linkcode fromMatch} gives.
 */
function plainAddress(text: string): Address | undefined {
  const n = lastScheme.length;
  if (
    n === 0 || text.length <= n + 3 || text.charCodeAt(n) !== 58 || // ':'
    text.charCodeAt(n + 1) !== 47 || text.charCodeAt(n + 2) !== 47 || !text.startsWith(lastScheme)
  ) return undefined;
  // Unicode spaces are past 127: anything not plain ASCII at the end takes the long way.
  const end = text.charCodeAt(text.length - 1);
  if (end <= 32 || end >= 127) return undefined;
  const at = n + 3;
  if (text.indexOf("?", at) >= 0 || text.indexOf("#", at) >= 0 || text.indexOf("%", at) >= 0) {
    return undefined;
  }
  return { text, scheme: lastScheme, target: text.slice(at), params: NO_PARAMS };
}

/** `scheme://target?options`: the scheme, the target and the options' text. */
const ADDRESS = /^([a-z][a-z0-9+.-]*):\/\/([^?#]*)(?:\?([^#]*))?$/i;

/**
 * Parses `scheme://target?options`; throws a usage error saying what an address looks like.
 *
 * @example
 * ```ts
 * import { parseAddress } from "./address.ts";
 * parseAddress("sim://gauge?seed=3").params.get("seed"); // "3"
 * ```
 */
export function parseAddress(text: string): Address {
  // VISA resource strings (`TCPIP0::HOST::PORT::SOCKET`, `ASRL/dev/ttyUSB0::INSTR`) read as the
  // tcp:// or serial:// address they name, so pyvisa users can paste what they know.
  // Options may follow a VISA string as they follow an address: `...::SOCKET?instrument=NAME`.
  // `scheme://` and a VISA head (`TCPIP0::`, `ASRL...::`) exclude each other: an address is not
  // checked for VISA (two regular expressions per target of a thousand-target read).
  const m = ADDRESS.exec(text.trim());
  if (!m) {
    const q = text.indexOf("?");
    const visa = visaToAddress(q >= 0 && isVisa(text.slice(0, q)) ? text.slice(0, q) : text);
    if (visa) {
      const query = q >= 0 && isVisa(text.slice(0, q)) ? text.slice(q) : "";
      return { ...parseAddress(visa.address + query), text: text.trim(), note: visa.note };
    }
  }
  if (!m || m[2] === "") {
    throw new UsageError(
      `"${text}" is not a device address`,
      "addresses look like baratron://HOST[:PORT], sim://gauge, ca://PV:NAME, tcp://HOST:PORT, " +
        "serial:///dev/ttyUSB0, labwire://HOST:PORT/DEVICE or a VISA string (TCPIP0::HOST::PORT::SOCKET)",
    );
  }
  return fromMatch(text, m);
}

/** The address of a match of {@linkcode ADDRESS} with a target. */
function fromMatch(text: string, m: RegExpExecArray): Address {
  // Most targets hold no %-escape: no decoding call for each of a thousand PVs.
  let target = m[2]!;
  if (target.includes("%")) {
    try {
      target = decodeURIComponent(target);
    } catch (err) {
      throw new UsageError(
        `"${text}" has a malformed %-escape in "${m[2]}"`,
        "write % as %25, and other escapes as %XX with two hex digits",
        { cause: err },
      );
    }
  }
  const query = m[3];
  return {
    text: text.trim(),
    scheme: m[1]!.toLowerCase(),
    target,
    params: query ? new URLSearchParams(query) : NO_PARAMS,
  };
}

/**
 * Splits a `host[:port]` target (IPv6 in brackets) into host and port, with a default port.
 *
 * @example
 * ```ts
 * import { hostPort } from "./address.ts";
 * hostPort("10.0.0.5:8081", 80); // { host: "10.0.0.5", port: 8081 }
 * ```
 */
export function hostPort(target: string, defaultPort: number): { host: string; port: number } {
  const r = splitHostPort(target.replace(/\/$/, ""), { defaultPort });
  if ("problem" in r) {
    throw new UsageError(
      r.problem === "port"
        ? `port ${r.port} is out of range 1\u201365535`
        : `"${target}" is not HOST[:PORT]`,
    );
  }
  const problem = hostProblem(r.host);
  if (problem) {
    throw new UsageError(
      `host "${r.host}" is not a valid address: not a host name or IP address (${problem})`,
    );
  }
  return { host: r.host, port: r.port };
}

/**
 * Says why `host` (a name, an IPv4 address or a bracketed IPv6 address) cannot be an
 * address, or returns undefined when it can.
 *
 * @example
 * ```ts
 * import { hostProblem } from "./address.ts";
 * hostProblem("999.1.1.1"); // "999 is not an IPv4 number 0-255"
 * hostProblem("gauge-1.lab"); // undefined
 * ```
 */
export function hostProblem(host: string): string | undefined {
  if (host.startsWith("[")) {
    const inner = host.slice(1, -1);
    try {
      new URL(`http://[${inner}]/`);
      return undefined;
    } catch {
      return `[${inner}] is not an IPv6 address`;
    }
  }
  if (/^[\d.]+$/.test(host)) {
    const parts = host.split(".");
    if (parts.length !== 4 || parts.some((p) => p === "")) {
      return "an IPv4 address has four numbers 0\u2013255, like 10.0.0.5";
    }
    const bad = parts.find((p) => Number(p) > 255);
    return bad === undefined ? undefined : `${bad} is not an IPv4 number 0\u2013255`;
  }
  if (host.length > 253) return "a host name has at most 253 characters";
  const label = host.split(".").find((l) => !/^[A-Za-z0-9]([A-Za-z0-9_-]{0,62})?$/.test(l));
  return label === undefined
    ? undefined
    : `"${label}" is not a host name label (letters, digits and -, up to 63)`;
}
