/**
 * What a verb is to `main.ts`: a name, a summary, help text and a `run` that returns an exit
 * code (verbs never call `Deno.exit`, so they can be tested in-process).
 *
 * @module
 */

/** Exit codes of the output contract. */
export const EXIT = { ok: 0, device: 1, usage: 2, interrupted: 130 } as const;

/** One verb of the CLI. */
export interface Command {
  /** The verb, e.g. `read`. */
  name: string;
  /** One line for `labwire --help`. */
  summary: string;
  /** The full `labwire VERB --help` text, with examples. */
  help: string;
  /** Runs the verb with its arguments (after the verb); resolves to an exit code. */
  run(args: string[]): Promise<number>;
}
