/**
 * What a simulated instrument kind provides: its attribute table and how each value depends on
 * time (and on writes). Models are synchronous and do no I/O; {@linkcode SimDevice} adds
 * deadlines, faults and overlap detection around them.
 *
 * @module
 */
import type { Attr, Value } from "../../device/attr.ts";
import type { SimOptions } from "./options.ts";
import type { SimWorld } from "./world.ts";
import type { SimKindInfo } from "./driver_info.ts";

/** The physics of one simulated instrument. */
export interface SimModel {
  /** Declared attributes (the device's `attrs()`). */
  readonly attrs: readonly Attr[];
  /** The value of attribute `name` at epoch milliseconds `tMs`. */
  value(name: string, tMs: number): Value;
  /** Applies a write that has already been validated against the attr. */
  write(name: string, value: Value, tMs: number): void;
  /** Device-specific techniques (e.g. `move`). */
  readonly techniques?: readonly string[];
  /** For positioners: true while a move is in progress at `tMs`. */
  isMoving?(tMs: number): boolean;
  /** Releases shared world state. */
  close?(): void;
}

/** What a kind's factory gets: its options, seed and the shared world. */
export interface SimContext {
  /** Validated options of the address. */
  options: SimOptions;
  /** Seed of this device's noise. */
  seed: number;
  /** The process-wide world (motors). */
  world: SimWorld;
  /** The device's clock, epoch milliseconds. */
  now: () => number;
}

/** One kind of simulated instrument: its `--help` entry (`./driver_info.ts`) and its model. */
export interface SimKind extends SimKindInfo {
  /** Builds the model of one device. */
  create(ctx: SimContext): SimModel;
}
