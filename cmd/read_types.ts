/**
 * The types `read`'s two modules share (`./read.ts`, `./read_devices.ts`): types only, so that
 * neither module imports the other's code for them and nothing of this file loads at run time.
 *
 * @module
 */
import type { Values } from "../lib/device/attr.ts";
import type { Reading } from "../lib/device/device.ts";
import type { TimeOptions } from "../lib/output/time.ts";

/** The parsed options of `read`. */
export interface ReadOptions {
  /** Device names or addresses. */
  targets: string[];
  /** Attributes to read (default: the device's default reading). */
  attrs?: string[];
  /** Print the attribute schema instead of values. */
  describe: boolean;
  /** Per-device timeout override, ms. */
  timeout?: number;
  /** `--config FILE`. */
  config?: string;
  /** `--demo`. */
  demo: boolean;
  /** Force compact one-line JSON even on a terminal. */
  compact: boolean;
  /** `--time epoch|iso` and `--utc`. */
  time: Required<TimeOptions>;
}

/**
 * What a read of one device gave: a batch's reading (turned into its record only when the
 * document is not printed straight from the readings), a record, or why it failed.
 */
export type Outcome =
  | { status: "reading"; reading: Reading }
  | PromiseSettledResult<Record<string, unknown>>;

/** What a batch gave: its time, its devices' places and names, and each one's outcome. */
export interface BatchResult {
  /** When the batch started, epoch seconds. */
  t: number;
  /** Its devices' places among the targets. */
  indexes: readonly number[];
  /** Its devices' names, in its order. */
  names: string[];
  /** Each device's values, or why it failed. */
  outcomes: (Values | Error)[];
}
