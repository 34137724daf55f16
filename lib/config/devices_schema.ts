/**
 * `[devices.NAME]` tables: the address, interval and timeout of each device, and the options its
 * driver declares (`Driver.options`), checked as zod schemas so a mistake names its key.
 *
 * @module
 */
import { z } from "zod";
import { duration, fail, fromRule, isTable, ONCE } from "./fields.ts";
import { type Address, isAddress, parseAddress } from "../device/address.ts";
import { UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import { INTERVAL_RULE, TIMEOUT_RULE } from "./duration.ts";
import { type UnknownKeyParams } from "./problem.ts";
import type { DriverOptions } from "../device/registry.ts";
import { driverOptions, optionsProblem, targetProblem } from "./options.ts";

// ---------------------------------------------------------------------------------------------
// Devices and driver options (config tables and address query parameters alike)

/** The zod schemas of a built-in driver's options, built once per driver (and sim kind). */
interface ZodOptions {
  /** The rules themselves. */
  spec: DriverOptions;
  /** The options a device table may add beside address/interval/timeout. */
  extra: z.ZodType<Record<string, unknown>, unknown>;
}

const zodOptions = new Map<DriverOptions, ZodOptions>();

/** {@linkcode driverOptions} with the zod schema of a device table's extra keys. */
function deviceOptions(address: Address): ZodOptions | undefined {
  const spec = driverOptions(address.scheme, address.target);
  if (!spec) return undefined;
  let z1 = zodOptions.get(spec);
  if (!z1) {
    // Built once per driver: building a zod schema costs more than using it.
    const shape = Object.entries(spec.rules).filter(([k]) => k !== "timeout")
      .map(([k, rule]) => [k, fromRule(rule).optional()]);
    z1 = { spec, extra: z.object(Object.fromEntries(shape)) };
    zodOptions.set(spec, z1);
  }
  return z1;
}

const DEVICE_KEYS = [
  "address",
  "interval",
  "timeout",
  "safe_state",
  "safe_state_timeout",
  "trigger",
  "trigger_done",
];

const ATTR_NAME = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, {
  error: 'expected an attribute name like "count"',
});

/** A value a safe state writes: what a TOML value of an attribute can be. */
type SafeValue = number | boolean | string | number[];

/**
 * `safe_state = { attr = value, … }`: what to write, in the order written, when whoever drove the
 * device stops (the attribute names and values are checked against the device when applied).
 */
const SAFE_STATE = z.unknown().transform((v, ctx): [string, SafeValue][] => {
  if (!isTable(v)) {
    return fail(
      ctx,
      "expected a table of attribute = value",
      "e.g. safe_state = { heater = false }",
    );
  }
  const out: [string, SafeValue][] = [];
  for (const [k, x] of Object.entries(v)) {
    const ok = typeof x === "number" ? Number.isFinite(x) : typeof x === "boolean" ||
      typeof x === "string" ||
      (Array.isArray(x) && x.every((n) => typeof n === "number" && Number.isFinite(n)));
    if (!ok) {
      return fail(ctx, "expected a number, boolean, string or list of numbers", undefined, [k]);
    }
    out.push([k, x as SafeValue]);
  }
  if (out.length > 64) return fail(ctx, "at most 64 attributes");
  return out;
});

const ADDRESS = z.unknown().transform((v, ctx): Address => {
  if (typeof v !== "string") {
    return fail(ctx, 'expected address = "scheme://…" (e.g. "baratron://10.0.0.5")');
  }
  if (!isAddress(v)) return fail(ctx, `"${v}" is not an address like baratron://HOST`);
  let address: Address;
  try {
    address = parseAddress(v);
  } catch (err) {
    if (err instanceof UsageError) return fail(ctx, err.message, err.hint);
    throw err;
  }
  const problem = targetProblem(address);
  if (problem) return fail(ctx, `${v}: ${problem}`);
  const p = optionsProblem(address);
  if (p) return fail(ctx, `${v}: ${p.message}`, p.hint);
  return address;
});

/** A validated `[devices.NAME]` table. */
export interface DeviceTable {
  /** The parsed address. */
  address: Address;
  /** Sampling interval, ms. */
  interval?: number;
  /** Per-call timeout, ms. */
  timeout?: number;
  /** `safe_state`: attribute and value pairs, in the order written. */
  safeState?: [string, number | boolean | string | number[]][];
  /** `safe_state_timeout`, ms. */
  safeStateTimeout?: number;
  /**
   * A detector's trigger (a scaler's count): the action written true at every scan point before
   * the device is read, and the boolean that says it is still counting (default: the trigger).
   */
  trigger?: { attr: string; done: string };
  /** Every other key, checked against the driver's options. */
  options: Record<string, unknown>;
}

/** One `[devices.NAME]` table: address, interval, timeout and the options its driver takes. */
export const DEVICE_SCHEMA: z.ZodType<DeviceTable, unknown> = z.preprocess(
  (v, ctx) => {
    if (!isTable(v)) {
      ctx.addIssue({ code: "custom", message: "expected a table with an address", input: v });
      return v;
    }
    // The keys a device takes depend on its driver, so typos are found once the address is known.
    const address = typeof v.address === "string" && isAddress(v.address)
      ? (() => {
        try {
          return parseAddress(v.address as string);
        } catch {
          return undefined;
        }
      })()
      : undefined;
    const spec = address ? driverOptions(address.scheme, address.target) : undefined;
    // Without an address the driver is unknown: only a key that looks like "address" is a typo.
    const mistyped = (k: string) => v.address === undefined && didYouMean(k, ["address"]) !== "";
    if (spec || v.address === undefined) {
      const known = [
        ...DEVICE_KEYS,
        ...Object.keys(spec?.rules ?? {}).filter((k) => k !== "timeout"),
      ];
      for (const k of Object.keys(v)) {
        if (!known.includes(k) && (spec || mistyped(k))) {
          ctx.addIssue({
            code: "custom",
            message: "unknown key",
            path: [k],
            input: v,
            params: {
              unknownKey: k,
              known,
              owner: spec ? `a ${spec.owner} device` : "a device",
            } satisfies UnknownKeyParams,
          });
        }
      }
    }
    return v;
  },
  z.looseObject({
    address: ADDRESS,
    interval: duration(INTERVAL_RULE).optional(),
    timeout: duration(TIMEOUT_RULE).optional(),
    safe_state: SAFE_STATE.optional(),
    safe_state_timeout: duration(TIMEOUT_RULE).optional(),
    trigger: ATTR_NAME.optional(),
    trigger_done: ATTR_NAME.optional(),
  }).transform((d, ctx): DeviceTable => {
    const {
      address,
      interval,
      timeout,
      safe_state,
      safe_state_timeout,
      trigger,
      trigger_done,
      ...options
    } = d;
    if (trigger_done !== undefined && trigger === undefined) {
      ctx.addIssue({
        code: "custom",
        message: 'trigger_done names what ends a trigger: give trigger = "ATTR" too',
        path: ["trigger_done"],
      });
      return z.NEVER;
    }
    const zo = deviceOptions(address);
    if (zo) {
      const r = zo.extra.safeParse(options, ONCE);
      if (!r.success) {
        for (const issue of r.error.issues) {
          ctx.addIssue({ ...issue, path: issue.path } as z.core.$ZodRawIssue);
        }
        return z.NEVER;
      }
    }
    return {
      address,
      interval,
      timeout,
      safeState: safe_state,
      safeStateTimeout: safe_state_timeout,
      ...(trigger ? { trigger: { attr: trigger, done: trigger_done ?? trigger } } : {}),
      options,
    };
  }),
);

/** Device names: what a TOML bare key and a URL path segment both take. */
const DEVICE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export const DEVICES_SCHEMA = z.unknown().transform((v, ctx): Record<string, DeviceTable> => {
  if (!isTable(v)) return fail(ctx, "expected a table of [devices.NAME]");
  const out: Record<string, DeviceTable> = {};
  for (const [name, entry] of Object.entries(v)) {
    if (!DEVICE_NAME.test(name)) {
      return fail(ctx, "device names use letters, digits, _ and -", undefined, [name]);
    }
    const r = DEVICE_SCHEMA.safeParse(entry, ONCE);
    if (!r.success) {
      for (const issue of r.error.issues) {
        ctx.addIssue({ ...issue, path: [name, ...issue.path] } as z.core.$ZodRawIssue);
      }
      return z.NEVER;
    }
    out[name] = r.data;
  }
  return out;
});
