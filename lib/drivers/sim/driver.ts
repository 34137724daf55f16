/**
 * The `sim://` driver: in-process simulated instruments, `sim://KIND?options`
 * (`sim://gauge?seed=3`, `sim://motor?velocity=50&latency=5ms`, `sim://det?motor=m2`).
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import {
  checkAddressOptions,
  durationOption,
  flagOption,
  numberOption,
  scalarOption,
  textOption,
} from "../../config/options.ts";
import { UsageError } from "../../device/errors.ts";
import { MAX_TIMER_MS, parseDuration, TIMEOUT_RULE } from "../../config/duration.ts";
import type { Driver, DriverOptions, OpenContext, OptionRule } from "../../device/registry.ts";
import { didYouMean } from "../../device/suggest.ts";
import { FaultInjector, parseFaults } from "./faults.ts";
import { SimDevice } from "./device.ts";
import { SIM_KINDS } from "./kinds.ts";
import type { SimKind } from "./model.ts";
import { COMMON_OPTIONS, SimOptions } from "./options.ts";
import { Random } from "./random.ts";
import { hash32, preciseNow } from "./noise.ts";
import { world } from "./world.ts";

/** The rules of the options every kind takes (documented in `COMMON_OPTIONS`). */
const SIM_COMMON: Record<keyof typeof COMMON_OPTIONS, OptionRule> = {
  seed: numberOption(0, 2 ** 32 - 1, true),
  id: textOption("expected a name"),
  strict: flagOption(),
  timeout: durationOption(TIMEOUT_RULE),
  latency: durationOption({ min: 0, max: 60_000 }),
  jitter: durationOption({ min: 0, max: 60_000 }),
  timeout_rate: numberOption(0, 1),
  error_rate: numberOption(0, 1),
  garbage_rate: numberOption(0, 1),
  disconnect_rate: numberOption(0, 1),
  disconnect_for: durationOption({ min: 1, max: MAX_TIMER_MS }),
};

/**
 * The options of `sim://KIND`: the common ones (checked here) and the kind's own (any scalar;
 * the kind checks its values when it reads them). Undefined for an unknown kind, which
 * {@linkcode findKind} reports with the list of kinds.
 */
export function simOptionRules(target: string): DriverOptions | undefined {
  const name = target.replace(/\/+$/, "").toLowerCase();
  const kind = SIM_KINDS.find((k) => k.kind === name);
  if (!kind) return undefined;
  const own = Object.fromEntries(Object.keys(kind.options).map((k) => [k, scalarOption()]));
  return { owner: `sim://${kind.kind}`, rules: { ...SIM_COMMON, ...own } };
}

/** Returns the kind named by an address target, or throws a usage error listing the kinds. */
export function findKind(target: string): SimKind {
  const name = target.replace(/\/+$/, "").toLowerCase();
  const k = SIM_KINDS.find((x) => x.kind === name);
  if (!k) {
    const kinds = SIM_KINDS.map((x) => x.kind);
    throw new UsageError(
      `sim://${target} is not a simulated instrument; kinds: ${kinds.join(", ")}`,
      didYouMean(name, kinds) || undefined,
    );
  }
  return k;
}

/**
 * Creates a simulated device from its address, synchronously; `now` replaces the clock (tests).
 * Bad kinds and options throw a {@linkcode UsageError}.
 *
 * @example
 * ```ts
 * import { createSim } from "./driver.ts";
 * import { parseAddress } from "../../device/address.ts";
 * const gauge = createSim(parseAddress("sim://gauge?seed=3"));
 * await gauge.read(); // { pressure: 0.75…, pressure_units: "torr" }
 * await gauge.close();
 * ```
 */
export function createSim(
  address: Address,
  ctx: Partial<OpenContext> = {},
  now: () => number = preciseNow,
): SimDevice {
  const kind = findKind(address.target);
  checkAddressOptions(address, ctx.options, simOptionRules(address.target));
  const options = new SimOptions(kind.kind, address.params, kind.options, ctx.options);
  const seed = options.get("seed") !== undefined
    ? options.integer("seed", 0)
    : Math.floor(Math.random() * 2 ** 32);
  const strict = options.flag("strict");
  const faults = parseFaults(options.record());
  // Fault decisions get their own stream so adding faults does not change the values.
  const injector = new FaultInjector(faults, new Random(hash32(seed, 0xfa17)));
  const model = kind.create({ options, seed, world, now });
  // openDevice already turned `?timeout=` into ctx.timeout; direct callers get it here.
  const timeout = options.get("timeout");
  const timeoutMs = ctx.timeout ??
    (timeout !== undefined ? parseDuration(timeout, "s", "timeout") : 1000);
  return new SimDevice(ctx.name ?? simName(address), address.text, model, {
    faults: injector,
    strict,
    timeoutMs,
    now,
  });
}

/**
 * Opens a simulated device (the driver's `open`): {@linkcode createSim} as a promise, so bad
 * addresses reject rather than throw.
 *
 * @example
 * ```ts
 * import { openSim } from "./driver.ts";
 * import { parseAddress } from "../../device/address.ts";
 * const motor = await openSim(parseAddress("sim://motor?velocity=100"));
 * await motor.write("position", 1);
 * await motor.close();
 * ```
 */
export function openSim(
  address: Address,
  ctx: Partial<OpenContext> = {},
  now: () => number = preciseNow,
): Promise<SimDevice> {
  return Promise.resolve().then(() => createSim(address, ctx, now));
}

/** The name of a directly addressed sim device: its `id`, else its kind. */
export function simName(address: Address): string {
  return address.params.get("id") ?? address.target.replace(/\/+$/, "").toLowerCase();
}

/** The `sim://` driver for the registry. */
export const simDriver: Driver = {
  scheme: "sim",
  descriptors: "none",
  summary: `simulated instruments in this process: ${SIM_KINDS.map((k) => k.kind).join(", ")}`,
  example: "sim://gauge?seed=3&latency=20ms",
  open: (address, ctx) => openSim(address, ctx),
  defaultName: simName,
  options: simOptionRules,
};
