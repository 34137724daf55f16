/**
 * `labwire read TARGET...` - one reading of one or more devices, as one JSON document
 * (caget, `baratron HOST`, tomato's `get_attrs`).
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import type { Values } from "../lib/device/attr.ts";
import { hasOptions } from "../lib/device/plain_address.ts";
import { loadModule } from "../lib/device/lazy_module.ts";
import { chosenDevices, loadLabConfig } from "../lib/lab/setup.ts";
import { NO_OPTIONS } from "../lib/config/plain_targets.ts";
import type { Lab } from "../lib/lab/lab.ts";
import type { DeviceConfig } from "../lib/config/load.ts";
import { type Driver, findDriver } from "../lib/device/registry.ts";
import { nowSeconds } from "../lib/device/clock.ts";
import { splicedBatchDocument } from "../lib/output/batch_document.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";
import type { BatchResult, Outcome, ReadOptions } from "./read_types.ts";

export type { ReadOptions };

/**
 * `read`'s options from its arguments: {@linkcode plainReadArgs} for arguments none of which
 * starts with "-", else `parseReadArgs` (`./read_args.ts`, loaded then with the flag parser and
 * the duration and time readers: four modules, ~23 KB, that a read of a thousand `ca://` PVs
 * naming no flag never runs). Either way what `parseReadArgs` gives (a test holds them equal).
 */
export async function readOptions(args: string[]): Promise<ReadOptions> {
  // One native search, as the flag parser's own check: a newline inside an argument may say
  // "flag" wrongly, and then the parser reads them.
  if (args.length === 0 || (!args[0]!.startsWith("-") && !args.join("\n").includes("\n-"))) {
    return plainReadArgs(args);
  }
  return (await loadModule<typeof import("./read_args.ts")>(
    new URL("./read_args.ts", import.meta.url),
  )).parseReadArgs(args);
}

/**
 * The options of a read whose arguments are all targets (none starts with "-"): what
 * `parseReadArgs` (`./read_args.ts`) gives for them.
 *
 * @example
 * ```ts
 * import { plainReadArgs } from "./read.ts";
 * plainReadArgs(["ca://B:pv1"]).targets; // ["ca://B:pv1"]
 * ```
 */
export function plainReadArgs(args: readonly string[]): ReadOptions {
  return {
    targets: args.slice(),
    attrs: undefined,
    describe: false,
    timeout: undefined,
    config: undefined,
    demo: false,
    compact: false,
    time: { time: "epoch", utc: false },
  };
}

/**
 * `read`'s way for what one batch does not cover (Lab, single target, failures, mixed outcomes),
 * loaded only then (./read_devices.ts).
 */
function readDevices(): Promise<typeof import("./read_devices.ts")> {
  return loadModule<typeof import("./read_devices.ts")>(
    new URL("./read_devices.ts", import.meta.url),
  );
}

/**
 * The devices read in one batch by their driver ({@linkcode Driver.readMany}): addresses with no
 * options whose driver has a batch path, when only the default reading is asked for, and none
 * that a derived device of the same read reads (it shares that device's queue).
 */
function batchable(devices: readonly DeviceConfig[], opts: ReadOptions): Map<Driver, number[]> {
  const batches = new Map<Driver, number[]>();
  if (opts.describe || opts.attrs !== undefined) return batches;
  // Indexed loops: an iterator and its results per step are garbage in cold code.
  // An addressed device's options are the one shared NO_OPTIONS: told by identity, not looked
  // into (~0.9 M instructions of a read of a thousand PVs).
  const used = new Set<string>();
  for (let i = 0; i < devices.length; i++) {
    const options = devices[i]!.options;
    if (options === NO_OPTIONS) continue;
    const uses = options.uses as string[] | undefined;
    if (uses !== undefined) { for (let k = 0; k < uses.length; k++) used.add(uses[k]!); }
  }
  let last: Driver | undefined;
  let list: number[] = [];
  let scheme = "";
  let driver: Driver | undefined;
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]!;
    // Targets of one scheme come in runs: the registry is asked at each change of scheme.
    if (driver === undefined || d.address.scheme !== scheme) {
      scheme = d.address.scheme;
      driver = findDriver(scheme);
    }
    if (driver.readMany === undefined || hasOptions(d.address)) continue;
    if (used.size > 0 && used.has(d.name)) continue;
    if (d.options !== NO_OPTIONS && hasKeys(d.options)) continue;
    if (driver !== last) {
      last = driver;
      list = batches.get(driver) ?? [];
      batches.set(driver, list);
    }
    list.push(i);
  }
  return batches;
}

/**
 * Whether a device's options have a key, without building a key list (`isEmpty` of the config
 * layer's option rules, which a read of plain addresses does not load).
 */
function hasKeys(options: Record<string, unknown>): boolean {
  for (const _ in options) return true;
  return false;
}

/** Reads one batch of devices. */
async function readBatch(
  driver: Driver,
  indexes: readonly number[],
  devices: readonly DeviceConfig[],
  opts: ReadOptions,
): Promise<BatchResult> {
  const t = nowSeconds();
  const targets = new Array<DeviceConfig>(indexes.length);
  const names = new Array<string>(indexes.length);
  for (let k = 0; k < indexes.length; k++) {
    targets[k] = devices[indexes[k]!]!;
    names[k] = targets[k]!.name;
  }
  const outcomes = await driver.readMany!(targets, opts.timeout);
  return { t, indexes, names, outcomes };
}

/** True when every outcome of a batch is values (none failed). */
function allRead(b: BatchResult): boolean {
  for (let k = 0; k < b.outcomes.length; k++) if (b.outcomes[k] instanceof Error) return false;
  return true;
}

/** Runs `read`. */
export async function runRead(args: string[]): Promise<number> {
  const opts = await readOptions(args);
  const { config, cleanup } = await loadLabConfig(opts);
  let lab: Lab | undefined;
  try {
    const devices = await chosenDevices(opts, config);
    const n = devices.length;
    const batches = batchable(devices, opts);
    const inBatch = new Uint8Array(n);
    let batched = 0;
    for (const list of batches.values()) {
      for (let k = 0; k < list.length; k++) inBatch[list[k]!] = 1;
      batched += list.length;
    }
    const results: Outcome[] = new Array(n);
    let rest: Promise<void> | undefined;
    if (batched < n) {
      const restIndexes = devices.map((_, i) => i).filter((i) => inBatch[i] === 0);
      const opened = await (await readDevices()).readOpened(
        config,
        devices,
        restIndexes,
        opts,
        results,
      );
      lab = opened.lab;
      rest = opened.done;
    }
    const batchReads: Promise<BatchResult>[] = [];
    for (const [driver, indexes] of batches) {
      batchReads.push(readBatch(driver, indexes, devices, opts));
    }
    const [, batchResults] = await Promise.all([rest, Promise.all(batchReads)]);
    const pretty = stdoutIsTerminal() && !opts.compact;
    const only = batchResults.length === 1 ? batchResults[0]! : undefined;
    if (n > 1 && only !== undefined && only.indexes.length === n && !pretty && allRead(only)) {
      // Every device read in one batch (a thousand PVs): the document straight from its values,
      // in the order of the targets (a batch keeps it), no reading object made for each.
      const doc = splicedBatchDocument(only.t, only.names, only.outcomes as Values[], opts.time);
      if (doc !== undefined) {
        stdoutSink.write(doc);
        return EXIT.ok;
      }
    }
    return (await readDevices()).printOutcomes(devices, results, batchResults, opts, pretty);
  } finally {
    await lab?.close();
    await cleanup();
  }
}

/** The `read` verb. */
export const readCommand: Command = {
  name: "read",
  summary: "one reading of one or more devices, as one JSON document",
  run: runRead,
  help: `labwire read \u2014 one reading of one or more devices, as one JSON document

Usage: labwire read TARGET\u2026 [--attrs a,b] [--describe] [--timeout 2s]

One target prints its reading, one flat JSON object: "t" (epoch seconds; ISO 8601
with --time iso), "device", then the values \u2014 the shape stream, monitor, the HTTP
API and its events use. Several targets print one object of readings keyed by
device name. Pretty on a terminal, compact in a pipe (or --compact).
A device that does not answer within its timeout (1 s by default) is an error on
stderr with exit code 1 and nothing on stdout.

Flags:
  -a, --attrs a,b      read these attributes (default: the device's usual reading)
  -d, --describe       print the attribute schema (type, units, rw, limits), like
                       cainfo (an EPICS PV: its alarm, warning, display and
                       control limits and element count too)
  -t, --timeout 2s     per-device timeout
  -c, --config FILE    config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo           use the built-in simulated bench (gauge thermo motor dmm det)
      --compact        one-line JSON even on a terminal

Examples:
  labwire read --demo gauge
  labwire read baratron://192.168.1.100 | jq .pressure
  labwire read --demo gauge thermo | jq .thermo.temperature
  labwire read sim://motor --describe
  labwire read ca://XXX:m1.VAL
`,
};
