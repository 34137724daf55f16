/**
 * Scan plans: the points of a step scan, as pure data. A {@linkcode PlanSpec} is what a user
 * asks for (JSON-serialisable, stored in the session); {@linkcode makePlan} turns it into a
 * {@linkcode Plan} whose points are computed on demand by index, so a 10,000-point mesh costs
 * nothing until it runs, and a resumed scan can start anywhere.
 *
 * Conventions (bluesky's): `num` is the number of points, not of intervals; in a mesh the first
 * axis is the slowest (outer) loop; a snake mesh reverses each inner axis on every other pass.
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";

/** Most points a plan may have unless the caller sets its own limit (`[server] max_scan_points`). */
export const MAX_SCAN_POINTS = 1_000_000;

/** A plan with more points than its caller allows; the message names the limit. */
export class PlanTooLarge extends UsageError {
  /** Creates the error for a plan of `points` points over `limit`. */
  constructor(readonly points: number, readonly limit: number, hint?: string) {
    super(
      `the plan has ${fmt(points)} points; the limit is ${fmt(limit)}`,
      hint ?? "split the scan, or raise the limit",
    );
    this.name = "PlanTooLarge";
  }
}

/** Options of {@linkcode makePlan}. */
export interface PlanOptions {
  /** Most points allowed (default {@linkcode MAX_SCAN_POINTS}). */
  maxPoints?: number;
  /** Says how to raise the limit, for the error. */
  limitHint?: string;
}

function fmt(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US") : String(n);
}

/** One positioner's range in a line scan (ascan, a2scan, …). */
export interface Axis {
  /** `device.attr` of a writable numeric attribute. */
  positioner: string;
  /** First value (an offset from the start position in relative plans). */
  start: number;
  /** Last value. */
  stop: number;
}

/** One axis of a mesh: a range with its own number of points. */
export interface MeshAxis extends Axis {
  /** Points along this axis (≥ 1). */
  num: number;
}

/** What a user asks for; plain JSON, stored with the scan. */
export type PlanSpec =
  | {
    /** Every axis moves together through `num` points (ascan, dscan, a2scan, d2scan, …). */
    kind: "line";
    /** Values are offsets from the positions at the start; positioners return there at the end. */
    relative: boolean;
    /** The positioners and their ranges. */
    axes: Axis[];
    /** Number of points. */
    num: number;
    /** `log` spaces points geometrically (start and stop must be non-zero and of one sign). */
    spacing: "linear" | "log";
  }
  | {
    /** A grid: nested loops, first axis outermost. */
    kind: "mesh";
    /** Values are offsets from the start positions. */
    relative: boolean;
    /** The axes, outermost first. */
    axes: MeshAxis[];
    /** Reverse inner axes on alternate passes (shorter moves). */
    snake: boolean;
  }
  | {
    /** Explicit points. */
    kind: "list";
    /** Values are offsets from the start positions. */
    relative: boolean;
    /** The positioners, in the order of each point's values. */
    positioners: string[];
    /** One array of values per point, one value per positioner. */
    points: number[][];
  }
  | {
    /** No positioner: `num` readings of the detectors. */
    kind: "count";
    /** Number of readings. */
    num: number;
  };

/** A validated plan with lazily computed points. */
export interface Plan {
  /** The spec it was made from. */
  readonly spec: PlanSpec;
  /** `device.attr` of every positioner, in point-value order. */
  readonly positioners: readonly string[];
  /** Number of points. */
  readonly length: number;
  /** True when point values are offsets from the start positions. */
  readonly relative: boolean;
  /** The values of point `i` (0 ≤ i < length), one per positioner; offsets when relative. */
  at(i: number): number[];
}

/** A `device.attr` reference split in two. */
export interface AttrRef {
  /** Device name. */
  device: string;
  /** Attribute name. */
  attr: string;
}

/**
 * Splits `device.attr` (positioner or detector) into its parts.
 *
 * @example
 * ```ts
 * import { parseRef } from "./plan.ts";
 * parseRef("motor.position"); // { device: "motor", attr: "position" }
 * ```
 */
export function parseRef(ref: string): AttrRef {
  const dot = ref.indexOf(".");
  if (dot <= 0 || dot === ref.length - 1 || ref.includes("://")) {
    throw new UsageError(
      `"${ref}" is not a device.attr reference`,
      "write it like motor.position or det.counts (device name from the config, --demo or --devices)",
    );
  }
  return { device: ref.slice(0, dot), attr: ref.slice(dot + 1) };
}

/**
 * Validates a spec and returns its plan.
 *
 * @example
 * ```ts
 * import { makePlan } from "./plan.ts";
 * const plan = makePlan({
 *   kind: "line", relative: false, num: 3, spacing: "linear",
 *   axes: [{ positioner: "motor.position", start: 0, stop: 10 }],
 * });
 * plan.at(1); // [5]
 * ```
 */
export function makePlan(spec: PlanSpec, opts: PlanOptions = {}): Plan {
  const limit = opts.maxPoints ?? MAX_SCAN_POINTS;
  const plan = planOf(spec, limit, opts.limitHint);
  if (plan.length > limit) throw new PlanTooLarge(plan.length, limit, opts.limitHint);
  return plan;
}

function planOf(spec: PlanSpec, limit: number, hint?: string): Plan {
  if (spec === null || typeof spec !== "object") {
    throw new UsageError(`a plan is an object with a kind, got ${JSON.stringify(spec)}`);
  }
  // Sizes are checked against the limit before anything is computed from them.
  const num = (n: number, what: string) => {
    checkNum(n, what);
    if (n > limit) throw new PlanTooLarge(n, limit, hint);
  };
  switch (spec.kind) {
    case "line":
      num(spec.num, "number of points");
      return linePlan(spec);
    case "mesh":
      if (!Array.isArray(spec.axes)) throw new UsageError("a mesh needs a list of axes");
      for (const a of spec.axes) num(a?.num, `${a?.positioner} number of points`);
      return meshPlan(spec);
    case "list":
      if (Array.isArray(spec.points) && spec.points.length > limit) {
        throw new PlanTooLarge(spec.points.length, limit, hint);
      }
      return listPlan(spec);
    case "count":
      num(spec.num, "count");
      return { spec, positioners: [], length: spec.num, relative: false, at: () => [] };
    default:
      throw new UsageError(`unknown plan kind "${(spec as { kind: unknown }).kind}"`);
  }
}

/** Iterates every point of a plan from `from` (for tests and small plans; runners use `at`). */
export function* points(plan: Plan, from = 0): Generator<number[]> {
  for (let i = from; i < plan.length; i++) yield plan.at(i);
}

/** Returns the absolute targets of point `i`: the plan's values, plus `origin` when relative. */
export function absolute(plan: Plan, i: number, origin: readonly number[]): number[] {
  const v = plan.at(i);
  if (!plan.relative) return v;
  for (let k = 0; k < v.length; k++) v[k] = v[k]! + origin[k]!;
  return v;
}

/** Returns `num` values from `start` to `stop` (both included), evenly or geometrically spaced. */
export function spaced(
  start: number,
  stop: number,
  num: number,
  spacing: "linear" | "log" = "linear",
): number[] {
  const out = new Array<number>(num);
  for (let i = 0; i < num; i++) out[i] = spacedAt(start, stop, num, spacing, i);
  return out;
}

function spacedAt(
  start: number,
  stop: number,
  num: number,
  spacing: "linear" | "log",
  i: number,
): number {
  if (num === 1 || i === 0) return start;
  if (i === num - 1) return stop;
  const f = i / (num - 1);
  if (spacing === "log") return start * Math.pow(stop / start, f);
  return start + (stop - start) * f;
}

function linePlan(spec: Extract<PlanSpec, { kind: "line" }>): Plan {
  checkNum(spec.num, "number of points");
  if (spec.axes.length === 0) throw new UsageError("a scan needs at least one positioner");
  checkAxes(spec.axes);
  if (spec.spacing !== "linear" && spec.spacing !== "log") {
    throw new UsageError(`spacing must be "linear" or "log", got "${spec.spacing}"`);
  }
  if (spec.spacing === "log") {
    for (const a of spec.axes) {
      if (a.start === 0 || a.stop === 0 || Math.sign(a.start) !== Math.sign(a.stop)) {
        throw new UsageError(
          `${a.positioner}: log spacing needs start and stop of one sign and non-zero, got ${a.start} and ${a.stop}`,
        );
      }
    }
  }
  const { axes, num, spacing } = spec;
  return {
    spec,
    positioners: axes.map((a) => a.positioner),
    length: num,
    relative: spec.relative,
    at(i) {
      checkIndex(i, num);
      const out = new Array<number>(axes.length);
      for (let k = 0; k < axes.length; k++) {
        const a = axes[k]!;
        out[k] = spacedAt(a.start, a.stop, num, spacing, i);
      }
      return out;
    },
  };
}

function meshPlan(spec: Extract<PlanSpec, { kind: "mesh" }>): Plan {
  if (spec.axes.length === 0) throw new UsageError("a mesh needs at least one positioner");
  checkAxes(spec.axes);
  for (const a of spec.axes) checkNum(a.num, `${a.positioner} number of points`);
  const axes = spec.axes;
  const sizes = axes.map((a) => a.num);
  const length = sizes.reduce((p, n) => p * n, 1);
  // strides[k]: how many points one step of axis k spans (the product of the inner sizes)
  const strides = sizes.map((_, k) => sizes.slice(k + 1).reduce((p, n) => p * n, 1));
  return {
    spec,
    positioners: axes.map((a) => a.positioner),
    length,
    relative: spec.relative,
    at(i) {
      checkIndex(i, length);
      const out = new Array<number>(axes.length);
      for (let k = 0; k < axes.length; k++) {
        const a = axes[k]!;
        const stride = strides[k]!;
        let d = Math.floor(i / stride) % a.num;
        // the flat index of the outer axes: odd passes run this axis backwards, which keeps
        // every step between neighbouring points a move of one axis by one step
        if (spec.snake && k > 0 && Math.floor(i / (stride * a.num)) % 2 === 1) d = a.num - 1 - d;
        out[k] = spacedAt(a.start, a.stop, a.num, "linear", d);
      }
      return out;
    },
  };
}

function listPlan(spec: Extract<PlanSpec, { kind: "list" }>): Plan {
  if (spec.positioners.length === 0) throw new UsageError("a list scan needs a positioner");
  checkDistinct(spec.positioners);
  for (const p of spec.positioners) parseRef(p);
  if (spec.points.length === 0) throw new UsageError("a list scan needs at least one point");
  spec.points.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== spec.positioners.length) {
      throw new UsageError(
        `list point ${i + 1} has ${
          Array.isArray(p) ? p.length : 0
        } values; expected ${spec.positioners.length} (one per positioner)`,
      );
    }
    for (const v of p) {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new UsageError(`list point ${i + 1}: ${JSON.stringify(v)} is not a number`);
      }
    }
  });
  const pts = spec.points;
  return {
    spec,
    positioners: [...spec.positioners],
    length: pts.length,
    relative: spec.relative,
    at(i) {
      checkIndex(i, pts.length);
      return pts[i]!.slice();
    },
  };
}

function checkAxes(axes: readonly Axis[]): void {
  for (const a of axes) {
    parseRef(a.positioner);
    for (const [k, v] of [["start", a.start], ["stop", a.stop]] as const) {
      if (typeof v !== "number" || !Number.isFinite(v)) {
        throw new UsageError(`${a.positioner}: ${k} must be a number, got ${JSON.stringify(v)}`);
      }
    }
  }
  checkDistinct(axes.map((a) => a.positioner));
}

function checkDistinct(names: readonly string[]): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new UsageError(`positioner ${n} appears twice in the plan`);
    seen.add(n);
  }
}

function checkNum(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`${what} must be a whole number ≥ 1, got ${JSON.stringify(n)}`);
  }
}

function checkIndex(i: number, length: number): void {
  if (!(i >= 0 && i < length) || !Number.isInteger(i)) {
    throw new RangeError(`point ${i} is outside the plan (0…${length - 1})`);
  }
}
