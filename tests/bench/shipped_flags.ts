/**
 * The V8 flags labwire ships with, read from `deno task compile` in deno.json (the binary the
 * systemd unit runs bakes them in), so benchmarks that measure "as shipped" cannot drift from it.
 *
 * @module
 */
import denoJson from "../../deno.json" with { type: "json" };

/**
 * The comma-separated V8 flags of a deno.json task (`--v8-flags=…`), "" when it has none.
 *
 * @example
 * ```ts
 * import { taskV8Flags } from "./shipped_flags.ts";
 * taskV8Flags("deno run --v8-flags=--a,--b main.ts"); // "--a,--b"
 * ```
 */
export function taskV8Flags(task: string): string {
  return /--v8-flags=(\S+)/.exec(task)?.[1] ?? "";
}

/** The V8 flags of `deno task compile`, e.g. `--max-semi-space-size=2,--heap-growing-percent=50`. */
export const SHIPPED_V8_FLAGS: string = taskV8Flags(denoJson.tasks.compile);
