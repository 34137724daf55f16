/**
 * `read`'s way for what one batch does not cover (`./read.ts`): devices opened through a Lab
 * and read one by one (`sim://`, `--attrs`, `--describe`, options), and the document of mixed
 * outcomes, failures and a single target. Loaded only then: a read of a thousand `ca://` PVs
 * that one batch reads whole never runs it.
 *
 * @module
 */
import type { Attr } from "../lib/device/attr.ts";
import { DeviceError, errorMessage, UsageError } from "../lib/device/errors.ts";
import { loadModule } from "../lib/device/lazy_module.ts";
import { loadLab } from "../lib/lab/setup.ts";
import type { Lab } from "../lib/lab/lab.ts";
import type { DeviceManager } from "../lib/lab/manager.ts";
import type { DeviceConfig, LabConfig } from "../lib/config/load.ts";
import type { Reading } from "../lib/device/device.ts";
import { attrRecord, jsonDocument, readingRecord, readingsDocument } from "../lib/output/record.ts";
import { machineTime } from "../lib/output/time.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { EXIT } from "../lib/cli/command.ts";
import type { BatchResult, Outcome, ReadOptions } from "./read_types.ts";

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
 * Opens a Lab of the devices at `indexes` and reads each through it, each outcome put at its
 * place in `results`; resolves to the Lab (closed by the caller) and the reads' end.
 */
export async function readOpened(
  config: LabConfig,
  devices: readonly DeviceConfig[],
  indexes: number[],
  opts: ReadOptions,
  results: Outcome[],
): Promise<{ lab: Lab; done: Promise<void> }> {
  const { Lab } = await loadLab();
  const lab = await Lab.open(config, indexes.map((i) => devices[i]!));
  const done = Promise.allSettled(lab.managers.map((m) => readOne(m, opts))).then((settled) => {
    settled.forEach((r, k) => (results[indexes[k]!] = r));
  });
  return { lab, done };
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

/** The record an outcome prints (a batch's reading as every reading prints). */
function recordOf(
  r: Exclude<Outcome, PromiseRejectedResult>,
  opts: ReadOptions,
): Record<string, unknown> {
  return r.status === "reading" ? readingRecord(r.reading, opts.time) : r.value;
}

/**
 * Prints the document of every device's outcome (the batches' put in `results` first) and
 * resolves to the exit code; throws the error of a single target that failed, and a usage
 * error of any.
 */
export function printOutcomes(
  devices: readonly DeviceConfig[],
  results: Outcome[],
  batchResults: readonly BatchResult[],
  opts: ReadOptions,
  pretty: boolean,
): number {
  const n = devices.length;
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
    // Every device read, in batches of several drivers (one batch took the way of ./read.ts):
    // the document straight from the readings.
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
}
