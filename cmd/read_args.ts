/**
 * `read`'s flags and their parse, loaded by `./read.ts` only when an argument starts with "-":
 * a read that names no flag (a thousand `ca://` PVs) takes `plainReadArgs` and loads neither the
 * flag parser (`../lib/cli/flags.ts`, `../lib/cli/argv.ts`) nor the duration and time readers.
 *
 * @module
 */
import {
  boolFlag,
  durationFlag,
  listFlag,
  parseFlags,
  stringFlag,
  timeFlags,
} from "../lib/cli/flags.ts";
import { TIMEOUT_RULE } from "../lib/config/duration.ts";
import type { ReadOptions } from "./read_types.ts";

const FLAGS = {
  attrs: { type: "string", short: "a", multiple: true },
  describe: { type: "boolean", short: "d" },
  timeout: { type: "string", short: "t" },
  compact: { type: "boolean" },
} as const;

/**
 * Parses `read`'s arguments (pure; tested on its own).
 *
 * @example
 * ```ts
 * import { parseReadArgs } from "./read_args.ts";
 * parseReadArgs(["ca://B:pv1", "--timeout", "2s"]).timeout; // 2000
 * ```
 */
export function parseReadArgs(args: string[]): ReadOptions {
  const f = parseFlags(args, FLAGS, "read");
  return {
    targets: f.positionals,
    attrs: listFlag(f, "attrs"),
    describe: boolFlag(f, "describe"),
    timeout: durationFlag(f, "timeout", TIMEOUT_RULE),
    config: stringFlag(f, "config"),
    demo: boolFlag(f, "demo"),
    compact: boolFlag(f, "compact") || boolFlag(f, "json"),
    time: timeFlags(f),
  };
}
