/**
 * The `sim://` driver as the registry knows it before `./driver.ts` loads: scheme, help text,
 * the option rules of each kind and the device name. The simulators themselves (models, noise,
 * faults, the shared world) load on the first `sim://` open, so a verb whose targets are all
 * `ca://` or `baratron://` does not load them.
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import {
  durationOption,
  flagOption,
  numberOption,
  scalarOption,
  textOption,
} from "../../config/options.ts";
import { UsageError } from "../../device/errors.ts";
import { MAX_TIMER_MS, TIMEOUT_RULE } from "../../config/duration.ts";
import type { DriverInfo, DriverOptions, OptionRule } from "../../device/registry.ts";
import { didYouMean } from "../../device/suggest.ts";
import { SIM_KIND_INFO, SIM_KIND_NAMES, type SimKindInfo } from "./kind_info.ts";

/** The rules of the options every kind takes (documented in `COMMON_OPTIONS`, `./options.ts`). */
const SIM_COMMON: Record<string, OptionRule> = {
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

/** The kind an address target names (case and trailing slashes ignored), if there is one. */
function kindInfo(target: string): SimKindInfo | undefined {
  const name = target.replace(/\/+$/, "").toLowerCase();
  return Object.hasOwn(SIM_KIND_INFO, name)
    ? SIM_KIND_INFO[name as keyof typeof SIM_KIND_INFO]
    : undefined;
}

/**
 * The options of `sim://KIND`: the common ones (checked here) and the kind's own (any scalar;
 * the kind checks its values when it reads them). Undefined for an unknown kind, which
 * {@linkcode checkKind} reports with the list of kinds.
 */
export function simOptionRules(target: string): DriverOptions | undefined {
  const kind = kindInfo(target);
  if (!kind) return undefined;
  const own = Object.fromEntries(Object.keys(kind.options).map((k) => [k, scalarOption()]));
  return { owner: `sim://${kind.kind}`, rules: { ...SIM_COMMON, ...own } };
}

/** Returns the kind named by an address target, or throws a usage error listing the kinds. */
export function checkKind(target: string): SimKindInfo {
  const k = kindInfo(target);
  if (!k) {
    const name = target.replace(/\/+$/, "").toLowerCase();
    throw new UsageError(
      `sim://${target} is not a simulated instrument; kinds: ${SIM_KIND_NAMES.join(", ")}`,
      didYouMean(name, SIM_KIND_NAMES) || undefined,
    );
  }
  return k;
}

/** The name of a directly addressed sim device: its `id`, else its kind. */
export function simName(address: Address): string {
  return address.params.get("id") ?? address.target.replace(/\/+$/, "").toLowerCase();
}

/** The `sim://` driver without its `open`. */
export const SIM_INFO: DriverInfo = {
  scheme: "sim",
  descriptors: "none",
  summary: `simulated instruments in this process: ${SIM_KIND_NAMES.join(", ")}`,
  example: "sim://gauge?seed=3&latency=20ms",
  defaultName: simName,
  options: simOptionRules,
};
