/**
 * Loading a part of labwire only when a run needs it, without Deno reading it at start-up.
 *
 * `deno run` builds the module graph of the entry point before running it, and that graph
 * follows every dynamic `import("./literal.ts")` too, loaded or not: with each verb and driver
 * family behind a literal dynamic import, `labwire read sim://gauge` read and hashed all ~290
 * modules of the program and resolved every npm package (~55 ms of CPU of its ~200). An
 * import whose specifier is a value is not followed: the module's graph is built when it
 * loads. `deno compile` cannot see such imports either, so every module loaded here is listed
 * with `--include` in deno.json's `compile` task (a test checks that the two agree).
 *
 * @module
 */

/**
 * Imports the module at `url` (always `new URL("./literal.ts", import.meta.url)`, typed with
 * `typeof import("./literal.ts")`, which type-checks it and which `deno run` does not follow).
 *
 * @example
 * ```ts ignore
 * import { loadModule } from "./lazy_module.ts";
 * const { readCommand } = await loadModule<typeof import("../../cmd/read.ts")>(
 *   new URL("../../cmd/read.ts", import.meta.url),
 * );
 * ```
 */
export function loadModule<T>(url: URL): Promise<T> {
  return import(url.href);
}
