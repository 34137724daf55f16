/**
 * The `sim://` driver: in-process simulated instruments, `sim://KIND?options`
 * (`sim://gauge?seed=3`, `sim://motor?velocity=50&latency=5ms`, `sim://det?motor=m2`).
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import { checkAddressOptions } from "../../config/options.ts";
import { parseDuration } from "../../config/duration.ts";
import type { Driver, OpenContext } from "../../device/registry.ts";
import { FaultInjector, parseFaults } from "./faults.ts";
import { SimDevice } from "./device.ts";
import { SIM_KINDS } from "./kinds.ts";
import type { SimKind } from "./model.ts";
import { SimOptions } from "./options.ts";
import { Random } from "./random.ts";
import { hash32, preciseNow } from "./noise.ts";
import { world } from "./world.ts";
import { checkKind, SIM_INFO, simName, simOptionRules } from "./driver_info.ts";

export { simName, simOptionRules };

/** Returns the kind named by an address target, or throws a usage error listing the kinds. */
export function findKind(target: string): SimKind {
  const name = checkKind(target).kind;
  return SIM_KINDS.find((k) => k.kind === name)!;
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

/** The `sim://` driver; `../mod.ts` registers `SIM_INFO` and loads this on the first open. */
export const simDriver: Driver = { ...SIM_INFO, open: (address, ctx) => openSim(address, ctx) };
