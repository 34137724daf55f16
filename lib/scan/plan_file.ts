/**
 * Plan files (`labwire scan --plan scan.toml`) for scans too long for one command line:
 *
 * ```toml
 * plan = "mesh"                      # ascan dscan a2scan … mesh dmesh grid list dlist count
 * detectors = ["det.counts", "dmm.voltage"]
 * settle = "50ms"                    # also: dwell, tolerance, move_timeout
 * snake = true                       # meshes; `log = true` for line scans
 * devices = ["sim://motor"]          # extra targets to open (addresses or config names)
 *
 * [[axes]]                           # line scans: start/stop, and `num` at the top level
 * positioner = "motor.position"      # meshes: start/stop/num per axis, first axis outermost
 * start = 0
 * stop = 10
 * num = 11
 *
 * [positions]                        # list scans: one array per positioner
 * "motor.position" = [1, 2, 5]
 *
 * [readbacks]                        # optional: where a positioner's actual position is read
 * "motor.position" = "readback"
 * ```
 *
 * @module
 */
import { durationKey, isTable, parseTomlFile } from "../config/load.ts";
import { ConfigError, UsageError } from "../device/errors.ts";
import { z } from "zod";
import { parseWith, table } from "../config/fields.ts";
import { makePlan, type PlanSpec } from "./plan.ts";

/** What a plan file sets; CLI flags override everything but the plan. */
export interface PlanFile {
  /** The points. */
  plan: PlanSpec;
  /** Detectors, when given. */
  detectors?: string[];
  /** Actions run at every point before the detectors are read. */
  triggers?: string[];
  /** Settle time, ms. */
  settleMs?: number;
  /** Dwell time, ms. */
  dwellMs?: number;
  /** Read-back tolerance. */
  tolerance?: number;
  /** Move timeout, ms. */
  moveTimeoutMs?: number;
  /** Read-back attribute per positioner. */
  readbacks?: Record<string, string>;
  /** Extra targets to open. */
  devices?: string[];
  /** `goto = "cen"`: where the first positioner goes when the scan completes. */
  goto?: string;
}

/** The keys a plan file may have. */
export const PLAN_KEYS = [
  "plan",
  "detectors",
  "triggers",
  "settle",
  "dwell",
  "tolerance",
  "move_timeout",
  "log",
  "snake",
  "num",
  "devices",
  "axes",
  "positions",
  "readbacks",
  "goto",
];

const PLAN_FILE_KEYS = table(
  Object.fromEntries(PLAN_KEYS.map((k) => [k, z.unknown().optional()])),
  "a plan file",
);

/**
 * Parses a plan file's text; errors are {@linkcode ConfigError}s naming the file and key.
 *
 * @example
 * ```ts
 * import { parsePlanFile } from "./plan_file.ts";
 * const f = parsePlanFile('plan = "count"\nnum = 3\ndetectors = ["det.counts"]', "p.toml");
 * f.plan; // { kind: "count", num: 3 }
 * ```
 */
export function parsePlanFile(text: string, file: string): PlanFile {
  const doc = parseTomlFile(text, file);
  // Which keys a plan file takes is checked by the config schema's formatter; what each holds
  // depends on the plan, below.
  parseWith(PLAN_FILE_KEYS, doc, file);
  const name = doc.plan;
  if (typeof name !== "string") {
    throw new ConfigError(
      'expected plan = "ascan" (or dscan, a2scan, mesh, list, count…)',
      file,
      "plan",
    );
  }
  const bool = (k: string) => {
    const v = doc[k];
    if (v !== undefined && typeof v !== "boolean") {
      throw new ConfigError("expected true or false", file, k);
    }
    return v === true;
  };
  const strings = (k: string) => {
    const v = doc[k];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
      throw new ConfigError('expected a list of strings like ["det.counts"]', file, k);
    }
    return v as string[];
  };
  const num = (v: unknown, key: string, integer = false) => {
    if (
      typeof v !== "number" || !Number.isFinite(v) || (integer && (!Number.isInteger(v) || v < 1))
    ) {
      throw new ConfigError(
        integer ? "expected a whole number ≥ 1" : "expected a number",
        file,
        key,
      );
    }
    return v;
  };
  const spec = wrap(() => buildSpec(name, doc, file, bool, num), file, "plan");
  const out: PlanFile = { plan: spec };
  const detectors = strings("detectors");
  if (detectors) out.detectors = detectors;
  const triggers = strings("triggers");
  if (triggers) out.triggers = triggers;
  const devices = strings("devices");
  if (devices) out.devices = devices;
  if (doc.goto !== undefined) {
    if (typeof doc.goto !== "string") {
      throw new ConfigError('expected "peak", "cen" or "com"', file, "goto");
    }
    out.goto = doc.goto;
  }
  // plan files are written by people: bare numbers are seconds, like the config file's
  if (doc.settle !== undefined) out.settleMs = durationKey(doc.settle, file, "settle");
  if (doc.dwell !== undefined) out.dwellMs = durationKey(doc.dwell, file, "dwell");
  if (doc.move_timeout !== undefined) {
    out.moveTimeoutMs = durationKey(doc.move_timeout, file, "move_timeout");
  }
  if (doc.tolerance !== undefined) out.tolerance = num(doc.tolerance, "tolerance");
  if (doc.readbacks !== undefined) {
    const r = doc.readbacks;
    if (!isTable(r) || !Object.values(r).every((v) => typeof v === "string")) {
      throw new ConfigError(
        'expected a table like "motor.position" = "readback"',
        file,
        "readbacks",
      );
    }
    out.readbacks = { ...r } as Record<string, string>;
  }
  return out;
}

function buildSpec(
  name: string,
  doc: Record<string, unknown>,
  file: string,
  bool: (k: string) => boolean,
  num: (v: unknown, key: string, integer?: boolean) => number,
): PlanSpec {
  const axesOf = (perAxisNum: boolean) => {
    const axes = doc.axes;
    if (!Array.isArray(axes) || axes.length === 0 || !axes.every(isTable)) {
      throw new ConfigError(
        "expected [[axes]] tables with positioner, start, stop" + (perAxisNum ? ", num" : ""),
        file,
        "axes",
      );
    }
    return axes.map((a, i) => {
      const key = `axes[${i}]`;
      if (typeof a.positioner !== "string") {
        throw new ConfigError('expected positioner = "device.attr"', file, `${key}.positioner`);
      }
      return {
        positioner: a.positioner,
        start: num(a.start, `${key}.start`),
        stop: num(a.stop, `${key}.stop`),
        num: perAxisNum ? num(a.num, `${key}.num`, true) : 0,
      };
    });
  };
  const line = /^([ad])(\d*)scan$/.exec(name);
  let spec: PlanSpec;
  if (line) {
    const axes = axesOf(false).map(({ positioner, start, stop }) => ({ positioner, start, stop }));
    if (line[2] && axes.length !== Number(line[2])) {
      throw new ConfigError(
        `${name} moves ${line[2]} positioner(s); [[axes]] has ${axes.length}`,
        file,
        "axes",
      );
    }
    spec = {
      kind: "line",
      relative: line[1] === "d",
      axes,
      num: num(doc.num, "num", true),
      spacing: bool("log") ? "log" : "linear",
    };
  } else if (name === "mesh" || name === "grid" || name === "dmesh") {
    spec = { kind: "mesh", relative: name === "dmesh", axes: axesOf(true), snake: bool("snake") };
  } else if (name === "list" || name === "dlist") {
    const pos = doc.positions;
    if (!isTable(pos) || Object.keys(pos).length === 0) {
      throw new ConfigError(
        'expected [positions] with "device.attr" = [values…]',
        file,
        "positions",
      );
    }
    const positioners = Object.keys(pos);
    const columns = positioners.map((p) => {
      const v = pos[p];
      if (!Array.isArray(v) || v.length === 0) {
        throw new ConfigError("expected a list of numbers", file, `positions."${p}"`);
      }
      return v.map((x, i) => num(x, `positions."${p}"[${i}]`));
    });
    const n = columns[0]!.length;
    columns.forEach((c, k) => {
      if (c.length !== n) {
        throw new ConfigError(
          `has ${c.length} values but ${positioners[0]} has ${n}`,
          file,
          `positions."${positioners[k]}"`,
        );
      }
    });
    spec = {
      kind: "list",
      relative: name === "dlist",
      positioners,
      points: Array.from({ length: n }, (_, i) => columns.map((c) => c[i]!)),
    };
  } else if (name === "count") {
    spec = { kind: "count", num: num(doc.num, "num", true) };
  } else {
    throw new UsageError(
      `unknown plan "${name}"; plans: ascan, dscan, a2scan, d2scan, mesh, dmesh, list, dlist, count`,
    );
  }
  makePlan(spec, { maxPoints: Infinity }); // shape only: the verb applies its point limit
  return spec;
}

function wrap<T>(fn: () => T, file: string, key: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof UsageError) {
      throw new ConfigError(err.message, file, key, { cause: err });
    }
    throw err;
  }
}
