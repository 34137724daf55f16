/**
 * A device address as labwire holds it ({@linkcode Address}), and its plainest form,
 * `scheme://target` with no options, read without the parser of every other form
 * ({@linkcode plainAddresses}): a read of a thousand `ca://` PVs loads this module alone, and
 * `./address.ts` (options, %-escapes, VISA strings, hosts and ports: three modules) when a
 * target is written some other way (`../config/targets.ts`).
 *
 * @module
 */

/** A parsed device address. */
export interface Address {
  /** The whole address as written. */
  text: string;
  /** URL scheme: selects the driver. */
  scheme: string;
  /** What follows `scheme://` up to `?`: a host[:port], a sim kind or a PV name. */
  target: string;
  /** The `?key=value` options. */
  params: URLSearchParams;
  /** Something to tell the user about how the address was read (e.g. a VISA `ASRL1` port). */
  note?: string;
}

/**
 * True when the address has `?key=value` options. An address without `?` is told apart by
 * identity, with no `URLSearchParams.size` (a WebIDL brand check each: a batch of a thousand
 * targets asks once per target).
 *
 * @example
 * ```ts
 * import { hasOptions } from "./plain_address.ts";
 * import { parseAddress } from "./address.ts";
 * hasOptions(parseAddress("sim://gauge?seed=3")); // true
 * ```
 */
export function hasOptions(address: Address): boolean {
  return address.params !== NO_PARAMS && address.params.size > 0;
}

/**
 * The options of every address without `?`: one shared, unchangeable instance (a
 * `URLSearchParams` per address was ~7 us of cold code each, a third of resolving a target of
 * a thousand-PV read). Nothing changes an address' options; trying to throws.
 */
class NoParams extends URLSearchParams {
  override append(): never {
    throw new TypeError("an address' options cannot be changed");
  }
  override delete(): never {
    throw new TypeError("an address' options cannot be changed");
  }
  override set(): never {
    throw new TypeError("an address' options cannot be changed");
  }
  override sort(): never {
    throw new TypeError("an address' options cannot be changed");
  }
}

/** The options of every address without `?` (`./address.ts` gives them too). */
export const NO_PARAMS: URLSearchParams = new NoParams();

/**
 * The addresses of `texts` when every one is of the simplest kind (as `./address.ts`'
 * `addressOf` reads them on its short way: `scheme://target`, the scheme in lower case, no
 * options, fragment, %-escape or space at its end) and of one scheme; undefined otherwise, and
 * then each text is for `addressOf`. One regular expression over the texts joined replaces the ten
 * character checks a text takes on the short way (a third of resolving a target of a read of a
 * thousand `ca://` PVs, in code that runs once); each address is what `addressOf` gives.
 *
 * @example
 * ```ts
 * import { plainAddresses } from "./plain_address.ts";
 * plainAddresses(["ca://A:1", "ca://A:2"])?.[1]?.target; // "A:2"
 * plainAddresses(["ca://A:1", "sim://gauge"]); // undefined
 * ```
 */
export function plainAddresses(texts: readonly string[]): Address[] | undefined {
  const n = texts.length;
  if (n === 0) return undefined;
  // Each line is a text, or part of one: a text holding a newline passes only when each of its
  // lines would, and then it is plain as a whole (its start, its end and nothing in between).
  const m = PLAIN_LINES.exec(texts.join("\n") + "\n");
  if (m === null) return undefined;
  const scheme = m[1]!;
  const at = scheme.length + 3;
  const out = new Array<Address>(n);
  for (let i = 0; i < n; i++) {
    const text = texts[i]!;
    out[i] = { text, scheme, target: text.slice(at), params: NO_PARAMS };
  }
  return out;
}

/**
 * Lines (each ended by a newline) that are all `scheme://target` of the first line's scheme, in
 * lower case, each target with no `?`, `#` or `%` and ending in a printable ASCII character.
 */
const PLAIN_LINES =
  /^([a-z][a-z0-9+.-]*):\/\/[^?#%\n]*[\x21\x22\x24\x26-\x3e\x40-\x7e]\n(?:\1:\/\/[^?#%\n]*[\x21\x22\x24\x26-\x3e\x40-\x7e]\n)*$/;
