/**
 * `labwire read TARGET…` — one reading of one or more devices, as one JSON document
 * (caget, `baratron HOST`, tomato's `get_attrs`).
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import {
  boolFlag,
  durationFlag,
  listFlag,
  parseFlags,
  stringFlag,
  timeFlags,
} from "../lib/cli/flags.ts";
import { TIMEOUT_RULE } from "../lib/config/duration.ts";
import type { Attr, Values } from "../lib/device/attr.ts";
import { hasOptions } from "../lib/device/address.ts";
import { DeviceError, errorMessage, UsageError } from "../lib/device/errors.ts";
import { loadModule } from "../lib/device/lazy_module.ts";
import { chosenDevices, loadLab, loadLabConfig } from "../lib/lab/setup.ts";
import type { Lab } from "../lib/lab/lab.ts";
import type { DeviceManager } from "../lib/lab/manager.ts";
import type { DeviceConfig } from "../lib/config/load.ts";
import { type Driver, findDriver } from "../lib/device/registry.ts";
import { isEmpty } from "../lib/config/options.ts";
import { nowSeconds, type Reading } from "../lib/device/device.ts";
import {
  attrRecord,
  batchDocument,
  jsonDocument,
  readingRecord,
  readingsDocument,
} from "../lib/output/record.ts";
import { machineTime, type TimeOptions } from "../lib/output/time.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";

const FLAGS = {
  attrs: { type: "string", short: "a", multiple: true },
  describe: { type: "boolean", short: "d" },
  timeout: { type: "string", short: "t" },
  compact: { type: "boolean" },
} as const;

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

/** Parses `read`'s arguments (pure; tested on its own). */
export function parseReadArgs(args: string[]): ReadOptions {
  const f = parseFlags(args, FLAGS, "read");
  return {
    targets: f.positionals,
    attrs: listFlag(f, "attrs"),
    describe: boolFlag(f, "describe"),
    timeout: durationFlag(f, "timeout", TIMEOUT_RULE),
    config: stringFlag(f, "config"),
    demo: boolFlag(f, "demo"),
    compact: boolFlag(f, "compact") || boolFlag(f, "json"),
    time: timeFlags(f),
  };
}

/** The schema of one attribute as `--describe` prints it: the API's, keyed by its name. */
export function describeAttr(a: Attr): Record<string, unknown> {
  const { name: _name, ...rest } = attrRecord(a);
  return rest;
}

/**
 * `findAttr`, loaded only when attributes are named or described: a plain read of addresses
 * never looks one up (../lib/device/lazy_module.ts).
 */
async function attrFinder(): Promise<typeof import("../lib/device/attr.ts").findAttr> {
  return (await loadModule<typeof import("../lib/device/attr.ts")>(
    new URL("../lib/device/attr.ts", import.meta.url),
  )).findAttr;
}

async function readOne(m: DeviceManager, opts: ReadOptions): Promise<Record<string, unknown>> {
  const call = { timeout: opts.timeout };
  const findAttr = opts.describe || opts.attrs ? await attrFinder() : undefined;
  if (findAttr && opts.describe) {
    const attrs = await m.attrs(call);
    const chosen = opts.attrs ? opts.attrs.map((n) => findAttr(attrs, n, m.name)) : attrs;
    return Object.fromEntries(chosen.map((a) => [a.name, describeAttr(a)]));
  }
  if (findAttr && opts.attrs) {
    const attrs = await m.attrs(call);
    for (const n of opts.attrs) findAttr(attrs, n, m.name);
  }
  // A reading has one shape everywhere (stream, monitor, the API, SSE): t, device, then values.
  const r = await m.sample(opts.attrs, call);
  if (r.error !== undefined) throw new DeviceError(r.error, m.name);
  return readingRecord(r, opts.time);
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
  const used = new Set<string>();
  for (let i = 0; i < devices.length; i++) {
    const uses = devices[i]!.options.uses as string[] | undefined;
    if (uses !== undefined) { for (let k = 0; k < uses.length; k++) used.add(uses[k]!); }
  }
  let last: Driver | undefined;
  let list: number[] = [];
  for (let i = 0; i < devices.length; i++) {
    const d = devices[i]!;
    const driver = findDriver(d.address.scheme);
    if (driver.readMany === undefined || hasOptions(d.address) || used.has(d.name)) continue;
    if (!isEmpty(d.options)) continue;
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
 * What a read of one device gave: a batch's reading (turned into its record only when the
 * document is not printed straight from the readings), a record, or why it failed.
 */
type Outcome =
  | { status: "reading"; reading: Reading }
  | PromiseSettledResult<Record<string, unknown>>;

/** What a batch gave: its time, its devices' places and names, and each one's outcome. */
interface BatchResult {
  t: number;
  indexes: readonly number[];
  names: string[];
  outcomes: (Values | Error)[];
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

/** Puts a batch's outcomes at their devices' places in `results`, each as a reading or why. */
function settleBatch(b: BatchResult, results: Outcome[]): void {
  for (let k = 0; k < b.indexes.length; k++) {
    const name = b.names[k]!;
    const o = b.outcomes[k]!;
    results[b.indexes[k]!] = o instanceof Error
      ? { status: "rejected", reason: new DeviceError(o.message, name) }
      : { status: "reading", reading: { t: b.t, device: name, values: o } };
  }
}

/** True when every outcome of a batch is values (none failed). */
function allRead(b: BatchResult): boolean {
  for (let k = 0; k < b.outcomes.length; k++) if (b.outcomes[k] instanceof Error) return false;
  return true;
}

/** The record an outcome prints (a batch's reading as every reading prints). */
function recordOf(
  r: Exclude<Outcome, PromiseRejectedResult>,
  opts: ReadOptions,
): Record<string, unknown> {
  return r.status === "reading" ? readingRecord(r.reading, opts.time) : r.value;
}

/** Runs `read`. */
export async function runRead(args: string[]): Promise<number> {
  const opts = parseReadArgs(args);
  const { config, cleanup } = await loadLabConfig(opts);
  let lab: Lab | undefined;
  try {
    const devices = chosenDevices(opts, config);
    const n = devices.length;
    const batches = batchable(devices, opts);
    const inBatch = new Uint8Array(n);
    let batched = 0;
    for (const list of batches.values()) {
      for (let k = 0; k < list.length; k++) inBatch[list[k]!] = 1;
      batched += list.length;
    }
    const results: Outcome[] = new Array(n);
    const reads: Promise<void>[] = [];
    if (batched < n) {
      const restIndexes = devices.map((_, i) => i).filter((i) => inBatch[i] === 0);
      const { Lab } = await loadLab();
      lab = await Lab.open(config, restIndexes.map((i) => devices[i]!));
      const managers = lab.managers;
      reads.push(
        Promise.allSettled(managers.map((m) => readOne(m, opts))).then((settled) => {
          settled.forEach((r, k) => (results[restIndexes[k]!] = r));
        }),
      );
    }
    const batchReads: Promise<BatchResult>[] = [];
    for (const [driver, indexes] of batches) {
      batchReads.push(readBatch(driver, indexes, devices, opts));
    }
    const [, batchResults] = await Promise.all([Promise.all(reads), Promise.all(batchReads)]);
    const pretty = stdoutIsTerminal() && !opts.compact;
    const only = batchResults.length === 1 ? batchResults[0]! : undefined;
    if (n > 1 && only !== undefined && only.indexes.length === n && !pretty && allRead(only)) {
      // Every device read in one batch (a thousand PVs): the document straight from its values,
      // in the order of the targets (a batch keeps it), no reading object made for each.
      stdoutSink.write(batchDocument(only.t, only.names, only.outcomes as Values[], opts.time));
      return EXIT.ok;
    }
    for (let b = 0; b < batchResults.length; b++) settleBatch(batchResults[b]!, results);
    let failed = false;
    let allReadings = true;
    for (let i = 0; i < n; i++) {
      const status = results[i]!.status;
      if (status === "rejected") failed = true;
      else if (status !== "reading") allReadings = false;
    }
    if (n === 1) {
      const r = results[0]!;
      if (r.status === "rejected") throw r.reason;
      stdoutSink.write(jsonDocument(recordOf(r, opts), pretty));
      return EXIT.ok;
    }
    if (!failed && allReadings && !pretty) {
      // Every device read, in batches of several drivers (one batch took the path above): the
      // document straight from the readings.
      const readings = new Array<Reading>(n);
      for (let i = 0; i < n; i++) {
        readings[i] = (results[i] as { status: "reading"; reading: Reading }).reading;
      }
      stdoutSink.write(readingsDocument(readings, opts.time));
      return EXIT.ok;
    }
    const doc: Record<string, unknown> = {};
    devices.forEach((d, i) => {
      const r = results[i]!;
      if (r.status !== "rejected") doc[d.name] = recordOf(r, opts);
      else {
        const t = machineTime(Date.now() / 1000, opts.time);
        doc[d.name] = { t, device: d.name, error: errorMessage(r.reason) };
      }
    });
    // A usage mistake (unknown attribute) anywhere makes the whole command a usage error.
    for (const r of results) {
      if (r.status === "rejected" && r.reason instanceof UsageError) throw r.reason;
    }
    stdoutSink.write(jsonDocument(doc, pretty));
    devices.forEach((d, i) => {
      const r = results[i]!;
      if (r.status === "rejected") {
        console.error(`labwire read: ${d.name}: ${errorMessage(r.reason)}`);
      }
    });
    return failed ? EXIT.device : EXIT.ok;
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
  help: `labwire read — one reading of one or more devices, as one JSON document

Usage: labwire read TARGET… [--attrs a,b] [--describe] [--timeout 2s]

One target prints its reading, one flat JSON object: "t" (epoch seconds; ISO 8601
with --time iso), "device", then the values — the shape stream, monitor, the HTTP
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
