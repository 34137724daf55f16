/**
 * The flags of `labwire read` (`cmd/read.ts`), as data: `main.ts` reads them to find the targets
 * it can start reading before the verb loads (`./prefetch.ts`).
 *
 * @module
 */
import type { FlagSpecs } from "./common_flags.ts";

/** `read`'s own flags (beside the common ones). */
export const READ_FLAGS = {
  attrs: { type: "string", short: "a", multiple: true },
  describe: { type: "boolean", short: "d" },
  timeout: { type: "string", short: "t" },
  compact: { type: "boolean" },
} as const satisfies FlagSpecs;
