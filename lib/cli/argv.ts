/**
 * Strict argument parsing with the behaviour and messages of `node:util`'s
 * `parseArgs({ strict: true, allowPositionals: true })`, without `node:util`: importing it loads
 * Node's compatibility layer (`node:process` and friends), which cost every verb ~25 ms of CPU at
 * start-up (`deno run --cpu-prof` of `labwire read sim://gauge`) for a loop over a few strings.
 * `argv_test.ts` checks this module against `node:util` on generated argument lists.
 *
 * The rules, as Node's: `--` ends the flags; `--name=value`; `--name value` for a string flag
 * (greedy: the next argument is its value, and one that looks like a flag is refused as
 * ambiguous); `-x`, `-xVALUE`, and groups `-abc` of boolean flags (a string flag inside a group
 * takes the rest of it as its value); anything else is a positional. Repeated flags keep the last
 * value, or collect all with `multiple`.
 *
 * @module
 */

/** One flag's declaration, as parseArgs takes it. */
export interface ArgSpec {
  /** `string` flags take a value; `boolean` flags do not. */
  type: "string" | "boolean";
  /** One-letter alias. */
  short?: string;
  /** Collect every occurrence into an array. */
  multiple?: boolean;
}

/** What {@linkcode parseStrictArgs} found: flag values by long name, and positionals. */
export interface ParsedArgs {
  /** Values of the flags given (null prototype, as parseArgs), by long name. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  /** Positional arguments in order. */
  positionals: string[];
}

/** A usage mistake, worded exactly as `node:util`'s parseArgs words it. */
export class ArgError extends Error {
  /** Node's error code, e.g. `ERR_PARSE_ARGS_UNKNOWN_OPTION`. */
  readonly code: string;
  /** Creates the error. */
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

function unknownOption(option: string): ArgError {
  return new ArgError(
    "ERR_PARSE_ARGS_UNKNOWN_OPTION",
    `Unknown option '${option}'. To specify a positional argument starting with a '-', place it ` +
      `at the end of the command after '--', as in '-- "${option}"`,
  );
}

/**
 * Parses `args` against `specs` in parseArgs' strict mode with positionals allowed; mistakes throw
 * an {@linkcode ArgError} carrying parseArgs' message.
 *
 * @example
 * ```ts
 * import { parseStrictArgs } from "./argv.ts";
 * parseStrictArgs(["-t", "2s", "sim://gauge"], { timeout: { type: "string", short: "t" } });
 * // { values: { timeout: "2s" }, positionals: ["sim://gauge"] }
 * ```
 */
export function parseStrictArgs(
  args: readonly string[],
  specs: Record<string, ArgSpec>,
): ParsedArgs {
  const values: ParsedArgs["values"] = Object.create(null);
  const positionals: string[] = [];
  const own = (name: string): ArgSpec | undefined =>
    Object.hasOwn(specs, name) ? specs[name] : undefined;
  const longOf = (short: string): string => {
    for (const name in specs) {
      if (Object.hasOwn(specs, name) && specs[name]!.short === short) return name;
    }
    return short;
  };
  const check = (name: string, value: string | undefined, used: string): void => {
    const spec = own(name);
    if (!spec) throw unknownOption(used);
    const named = spec.short ? `-${spec.short}, --${name}` : `--${name}`;
    if (spec.type === "string" && value === undefined) {
      throw new ArgError(
        "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
        `Option '${named} <value>' argument missing`,
      );
    }
    if (spec.type === "boolean" && value !== undefined) {
      throw new ArgError(
        "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
        `Option '${named}' does not take an argument`,
      );
    }
  };
  const checkLikeFlag = (name: string, value: string, used: string): void => {
    if (value.length > 1 && value[0] === "-") {
      const example = used.length === 2 ? `'--${name}=-XYZ' or '${used}-XYZ'` : `'--${name}=-XYZ'`;
      throw new ArgError(
        "ERR_PARSE_ARGS_INVALID_OPTION_VALUE",
        `Option '${used}' argument is ambiguous.\nDid you forget to specify the option argument ` +
          `for '${used}'?\nTo specify an option argument starting with a dash use ${example}.`,
      );
    }
  };
  const store = (name: string, value: string | undefined): void => {
    if (name === "__proto__") return;
    const v = value ?? true;
    if (own(name)?.multiple) {
      const list = values[name];
      if (Array.isArray(list)) list.push(v);
      else values[name] = [v];
    } else values[name] = v;
  };
  // Arguments are taken from `at` on (an index, not shift(): a read of a thousand targets would
  // move the whole list once per argument); `-abc` puts its expansion in front of the rest.
  let queue = args.slice();
  let at = 0;
  // A flag given as `used`, with the next argument as its value when it is a string flag.
  const takeFlag = (name: string, used: string): void => {
    let value: string | undefined;
    if (own(name)?.type === "string" && at < queue.length) {
      value = queue[at++]!;
      checkLikeFlag(name, value, used);
    }
    check(name, value, used);
    store(name, value);
  };
  while (at < queue.length) {
    const arg = queue[at++]!;
    if (arg.length === 0 || arg[0] !== "-") {
      positionals.push(arg);
      continue;
    }
    if (arg === "--") {
      for (; at < queue.length; at++) positionals.push(queue[at]!);
      break;
    }
    const short = arg.length >= 2 && arg[0] === "-" && arg[1] !== "-";
    if (short && arg.length === 2) {
      // -f, and -f VALUE for a string flag
      takeFlag(longOf(arg[1]!), arg);
    } else if (short && own(longOf(arg[1]!))?.type !== "string") {
      // -abc: expand to -a -b -c; a string flag inside takes the rest (-abfFILE -> -a -b -fFILE)
      const expanded: string[] = [];
      for (let i = 1; i < arg.length; i++) {
        const c = arg[i]!;
        if (own(longOf(c))?.type !== "string" || i === arg.length - 1) expanded.push(`-${c}`);
        else {
          expanded.push(`-${arg.slice(i)}`);
          break;
        }
      }
      queue = [...expanded, ...queue.slice(at)];
      at = 0;
    } else if (short) {
      // -fVALUE
      const name = longOf(arg[1]!);
      const value = arg.slice(2);
      check(name, value, `-${arg[1]}`);
      store(name, value);
    } else if (arg.length > 2 && arg.startsWith("--") && !arg.includes("=", 3)) {
      // --name, and --name VALUE for a string flag
      takeFlag(arg.slice(2), arg);
    } else if (arg.length > 2 && arg.startsWith("--")) {
      // --name=value
      const at = arg.indexOf("=");
      const name = arg.slice(2, at);
      const value = arg.slice(at + 1);
      check(name, value, `--${name}`);
      store(name, value);
    } else positionals.push(arg);
  }
  return { values, positionals };
}
