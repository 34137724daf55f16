/**
 * A `ca://PREFIX` device made of several PVs (pyepics `Device`, ophyd's `EpicsMotor`): the
 * `pvs` option maps attribute names to PV name suffixes under the prefix, and `motor = true`
 * declares motor-record semantics (attributes `position`, `readback`, `done` and `stop` on the
 * record's `.VAL`, `.RBV`, `.DMOV` and `.STOP` unless `pvs` names other PVs for them).
 *
 * ```toml
 * [devices.m1]
 * address = "ca://LAB:m1"
 * motor = true
 * pvs = { position = ":VAL", readback = ":RBV", done = ":DMOV", stop = ":STOP", velocity = ":VELO" }
 * ```
 *
 * An entry is the suffix alone, or a table `{ pv = ":RBV", type = "number", units = "mm",
 * precision = 3, description = "...", status = true, rw = false }` when the PV's own type, units
 * or access are not what the attribute should show. In an address the map is written
 * `?pvs=position=:VAL,readback=:RBV` (suffixes only). These rules are zod-free: the `ca://`
 * driver's options are checked where a config file is read or a `ca://` device opens; a read of
 * plain `ca://NAME` addresses checks none and does not load them (`./driver_info.ts`).
 *
 * @module
 */
import type { AttrType } from "../../device/attr.ts";
import type { Checked, DriverOptions, OptionRule } from "../../device/registry.ts";
import { durationOption, flagOption, isTable } from "../../config/options.ts";
import { TIMEOUT_RULE } from "../../config/duration.ts";

/** One attribute of a multi-PV device: its PV suffix and what the config declares of it. */
export interface PvSpec {
  /** Attribute name. */
  name: string;
  /** What follows the prefix in the PV name, e.g. `.RBV` or `:RBV`. */
  suffix: string;
  /** Declared type (the PV's own type when absent). */
  type?: AttrType;
  /** Declared units (the PV's EGU when absent). */
  units?: string;
  /** Declared precision (the PV's PREC when absent). */
  precision?: number;
  /** One line for `read --describe`. */
  description?: string;
  /** Part of the default reading (default true). */
  status?: boolean;
  /** `false` makes a writable PV read-only here; a read-only PV stays read-only. */
  rw?: boolean;
}

/** The motor record's roles and the fields they are on (ophyd's `EpicsMotor`). */
export const MOTOR_PVS: readonly PvSpec[] = [
  {
    name: "position",
    suffix: ".VAL",
    description: "setpoint: where the motor goes (a write starts a move)",
  },
  { name: "readback", suffix: ".RBV", rw: false, description: "actual position" },
  {
    name: "done",
    suffix: ".DMOV",
    type: "boolean",
    rw: false,
    description: "done moving: false while a move is in progress",
  },
  {
    name: "stop",
    suffix: ".STOP",
    type: "boolean",
    status: false,
    description: "action: stop the motor where it is",
  },
];

/** Most attributes one device maps (each is a channel on the IOC's circuit). */
export const MAX_PVS = 64;

const TYPES: readonly AttrType[] = ["number", "integer", "boolean", "string", "enum", "number[]"];
const ENTRY_KEYS = ["pv", "type", "units", "precision", "description", "status", "rw"];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The keys a reading has beside its values (`READING_KEYS` of lib/device/device.ts). */
const RESERVED = ["t", "device", "error"];

function bad(message: string, path?: string[], hint?: string): Checked {
  return { ok: false, message, path, hint };
}

const SUFFIX_HINT = 'e.g. readback = ":RBV" or readback = { pv = ".RBV", units = "mm" }';

function suffixProblem(s: unknown): string | undefined {
  if (typeof s !== "string" || s === "") return "expected the PV name suffix as text";
  if (/[\s,]/.test(s)) return `"${s}": a PV name suffix has no spaces or commas`;
  if (s.length > 128) return "a PV name suffix is at most 128 characters";
  return undefined;
}

function entry(name: string, v: unknown): PvSpec | Checked {
  if (typeof v === "string") {
    const p = suffixProblem(v);
    return p ? bad(p, [name], SUFFIX_HINT) : { name, suffix: v };
  }
  if (!isTable(v)) {
    return bad("expected a PV suffix or a table with pv = SUFFIX", [name], SUFFIX_HINT);
  }
  for (const k of Object.keys(v)) {
    if (!ENTRY_KEYS.includes(k)) {
      return bad(`unknown key; a pvs entry takes: ${ENTRY_KEYS.join(", ")}`, [name, k]);
    }
  }
  const p = suffixProblem(v.pv);
  if (p) return bad(p, [name, "pv"], SUFFIX_HINT);
  const spec: PvSpec = { name, suffix: v.pv as string };
  if (v.type !== undefined) {
    if (!TYPES.includes(v.type as AttrType)) {
      return bad(`expected one of ${TYPES.join(", ")}`, [name, "type"]);
    }
    spec.type = v.type as AttrType;
  }
  for (const k of ["units", "description"] as const) {
    if (v[k] === undefined) continue;
    if (typeof v[k] !== "string") return bad("expected text", [name, k]);
    spec[k] = v[k] as string;
  }
  if (v.precision !== undefined) {
    const n = v.precision;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 17) {
      return bad("expected a whole number of digits from 0 to 17", [name, "precision"]);
    }
    spec.precision = n;
  }
  for (const k of ["status", "rw"] as const) {
    if (v[k] === undefined) continue;
    if (typeof v[k] !== "boolean") return bad("expected true or false", [name, k]);
    spec[k] = v[k] as boolean;
  }
  return spec;
}

/** `position=:VAL,readback=:RBV`, the form an address' `?pvs=` takes. */
function fromText(text: string): { table: Record<string, unknown> } | { wrong: string } {
  const table: Record<string, unknown> = {};
  for (const part of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) return { wrong: part };
    table[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return { table };
}

/**
 * Reads a `pvs` option (a TOML table, or the text of an address' `?pvs=`) into specs, in the
 * order written; a mistake names the attribute and the key.
 *
 * @example
 * ```ts
 * import { readPvs } from "./options.ts";
 * readPvs({ temp: ":T", setpoint: { pv: ":SP", units: "K" } });
 * // { ok: true, value: [{ name: "temp", suffix: ":T" }, { name: "setpoint", suffix: ":SP", units: "K" }] }
 * ```
 */
export function readPvs(v: unknown): Checked {
  let table = v;
  if (typeof v === "string") {
    const t = fromText(v);
    if ("wrong" in t) {
      return bad(
        `"${t.wrong}" is not NAME=SUFFIX`,
        undefined,
        'in a config: pvs = { position = ":VAL" }; in an address: ?pvs=position=:VAL,readback=:RBV',
      );
    }
    table = t.table;
  }
  if (!isTable(table)) {
    return bad("expected a table of attribute = PV suffix", undefined, SUFFIX_HINT);
  }
  const specs: PvSpec[] = [];
  for (const [name, x] of Object.entries(table)) {
    if (!NAME.test(name) || RESERVED.includes(name)) {
      return bad(
        `"${name}" cannot name an attribute: use letters, digits and _ (not t, device or error)`,
        [name],
      );
    }
    const s = entry(name, x);
    if ("ok" in s) return s;
    specs.push(s);
  }
  if (specs.length === 0) {
    return bad("expected at least one attribute = PV suffix", undefined, SUFFIX_HINT);
  }
  if (specs.length > MAX_PVS) return bad(`at most ${MAX_PVS} attributes`);
  return { ok: true, value: specs };
}

/** The `pvs` option rule (see {@linkcode readPvs}). */
export function pvsOption(): OptionRule {
  return readPvs;
}

/**
 * The attributes of a multi-PV device: with `motor`, the motor roles (each replaced by the `pvs`
 * entry of the same name, keeping the role's type and access unless the entry declares them)
 * followed by the other entries; without, the entries alone.
 *
 * @example
 * ```ts
 * import { devicePvs } from "./options.ts";
 * devicePvs([{ name: "velocity", suffix: ".VELO" }], true).map((s) => s.name);
 * // ["position", "readback", "done", "stop", "velocity"]
 * ```
 */
export function devicePvs(pvs: readonly PvSpec[] | undefined, motor: boolean): PvSpec[] {
  if (!motor) return [...(pvs ?? [])];
  const given = new Map((pvs ?? []).map((s) => [s.name, s]));
  const roles = MOTOR_PVS.map((role) => {
    const s = given.get(role.name);
    given.delete(role.name);
    return s ? { ...role, ...s } : { ...role };
  });
  return [...roles, ...given.values()];
}

/** The longest `move_guard` taken, ms. */
export const MAX_MOVE_GUARD_MS = 60_000;

/**
 * The options a `ca://` device takes: with `pvs` or `motor` the target is a prefix and the
 * device is made of several PVs.
 */
export const CA_OPTIONS: DriverOptions = {
  owner: "ca://",
  rules: {
    timeout: durationOption(TIMEOUT_RULE),
    wait: flagOption(),
    as_string: flagOption(),
    pvs: pvsOption(),
    motor: flagOption(),
    move_guard: durationOption({ min: 0, max: MAX_MOVE_GUARD_MS }),
  },
  together(values) {
    if (values.move_guard === undefined || values.pvs !== undefined) return undefined;
    const motor = flagOption()(values.motor ?? false);
    if (motor.ok && motor.value === true) return undefined;
    return {
      key: "move_guard",
      message: "is for a motor: give motor = true (or a pvs map)",
      hint: "a ca:// device made of several PVs follows DMOV only when it is a motor",
    };
  },
};
