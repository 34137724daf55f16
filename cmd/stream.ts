/**
 * `labwire stream TARGET…` — continuous readings of every target, sampled concurrently on a
 * drift-free schedule: a live table on a terminal, NDJSON in a pipe, CSV on request
 * (the old `baratron --stream`, camonitor).
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import {
  boolFlag,
  durationFlag,
  formatFlag,
  intFlag,
  listFlag,
  parseFlags,
  stringFlag,
  timeFlags,
} from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { INTERVAL_RULE, TIMEOUT_RULE } from "../lib/config/duration.ts";
import type { Attr } from "../lib/device/attr.ts";
import type { Reading, Subscription } from "../lib/device/device.ts";
import { DeviceError, errorMessage } from "../lib/device/errors.ts";
import type { Lab } from "../lib/lab/lab.ts";
import { Sampler } from "../lib/lab/sampler.ts";
import { openLab } from "../lib/lab/setup.ts";
import { readingLines } from "../lib/output/readings.ts";
import { watchStdoutReader } from "../lib/output/reader_gone.ts";
import { PipeClosed, stdoutSink } from "../lib/output/stdout.ts";
import type { TimeOptions } from "../lib/output/time.ts";
import {
  colorEnabled,
  cursorAllowed,
  paint,
  stdoutIsTerminal,
  terminalSize,
} from "../lib/output/terminal.ts";
import { isEventLine } from "../lib/alarm/event.ts";
import type { AlarmConfig } from "../lib/alarm/rules.ts";
import { loadModule } from "../lib/device/lazy_module.ts";

const FLAGS = {
  interval: { type: "string", short: "i" },
  count: { type: "string", short: "n" },
  duration: { type: "string" },
  attrs: { type: "string", short: "a", multiple: true },
  format: { type: "string", short: "f" },
  timeout: { type: "string", short: "t" },
  poll: { type: "boolean" },
  stats: { type: "boolean" },
} as const;

/** Output formats of `stream`. */
export type StreamFormat = "table" | "ndjson" | "csv";

/** The parsed options of `stream`. */
export interface StreamOptions {
  /** Device names or addresses (none: every configured device). */
  targets: string[];
  /** Sampling interval override, ms. */
  interval?: number;
  /** Readings per device, then stop. */
  count?: number;
  /** Stop after this long, ms. */
  duration?: number;
  /** Attributes to read. */
  attrs?: string[];
  /** Output format; undefined = table on a terminal, NDJSON in a pipe. */
  format?: StreamFormat;
  /** Per-call timeout, ms. */
  timeout?: number;
  /** Poll devices that could push updates (EPICS) instead of subscribing. */
  poll: boolean;
  /** Print a JSON summary of the run on stderr at the end. */
  stats: boolean;
  /** `--config FILE`. */
  config?: string;
  /** `--demo`. */
  demo: boolean;
  /** `--no-color`. */
  noColor: boolean;
  /** `--time epoch|iso` and `--utc`. */
  time: Required<TimeOptions>;
}

/** Parses `stream`'s arguments (pure). */
export function parseStreamArgs(args: string[]): StreamOptions {
  const f = parseFlags(args, FLAGS, "stream");
  const format = formatFlag<StreamFormat>(f, ["table", "ndjson", "csv"]);
  const interval = durationFlag(f, "interval", INTERVAL_RULE);
  return {
    targets: f.positionals,
    interval,
    count: intFlag(f, "count", 1),
    duration: durationFlag(f, "duration"),
    attrs: listFlag(f, "attrs"),
    format,
    timeout: durationFlag(f, "timeout", TIMEOUT_RULE),
    poll: boolFlag(f, "poll"),
    stats: boolFlag(f, "stats"),
    config: stringFlag(f, "config"),
    demo: boolFlag(f, "demo"),
    noColor: boolFlag(f, "no-color"),
    time: timeFlags(f),
  };
}

/** Where readings go: one of the three formats. */
type Emit = (r: Reading) => void;

async function makeEmitter(
  lab: Lab,
  opts: StreamOptions,
  attrs: Map<string, Attr[]>,
): Promise<{ emit: Emit; finish: () => void }> {
  const format = opts.format ?? (stdoutIsTerminal() ? "table" : "ndjson");
  if (format !== "table") {
    return readingLines(format, { time: opts.time, attrs, only: opts.attrs });
  }
  // The table and the alarm engine are loaded only for a terminal: NDJSON and CSV into a pipe
  // (10,000 gauges into a logger) do not carry their code (~0.4 MB of source) for the whole run.
  const [{ LiveTable, loadTableRenderer }, { startAlarms }, { parseAlarms }] = await Promise.all([
    loadModule<typeof import("../lib/output/table.ts")>(
      new URL("../lib/output/table.ts", import.meta.url),
    ),
    loadModule<typeof import("../lib/alarm/watch.ts")>(
      new URL("../lib/alarm/watch.ts", import.meta.url),
    ),
    loadModule<typeof import("../lib/alarm/rules.ts")>(
      new URL("../lib/alarm/rules.ts", import.meta.url),
    ),
  ]);
  await loadTableRenderer();
  // The status area under the table: the config's alarm rules and every device's health alarms
  // (failing, silent), shown only — stream records nothing and notifies nobody. Transitions
  // reach the table through `on`; other log lines (a rule that cannot apply) are shown as notes.
  const watch = startAlarms(lab, {
    alarms: streamAlarms(lab, parseAlarms),
    notify: false,
    log: (line) => isEventLine(line) ? undefined : table.note(line),
  });
  const table = new LiveTable({
    write: (s) => stdoutSink.write(s),
    paint: paint(colorEnabled(opts.noColor)),
    attrs,
    size: terminalSize,
    cursor: cursorAllowed(),
    utc: opts.time.utc,
    alarms: () => watch?.engine.active() ?? [],
    only: opts.attrs,
  });
  watch?.engine.on((e) => table.alarm(e));
  watch?.checked.catch((err) => table.note(errorMessage(err)));
  return {
    emit: (r) => table.update(r),
    finish: () => {
      void watch?.close(0);
      table.finish();
    },
  };
}

/** The alarm rules and health alarms of the devices `stream` reads (targets may be addresses). */
function streamAlarms(
  lab: Lab,
  parseAlarms: typeof import("../lib/alarm/rules.ts").parseAlarms,
): AlarmConfig {
  const known = new Set(lab.config.devices.map((d) => d.name));
  const devices = [
    ...lab.config.devices,
    ...lab.managers.map((m) => m.config).filter((c) => !known.has(c.name)),
  ];
  const all = parseAlarms({ ...lab.config, devices });
  const read = new Set(lab.names);
  return {
    ...all,
    rules: all.rules.filter((r) => read.has(r.device)),
    health: all.health.filter((h) => read.has(h.device)),
  };
}

/** What one device gave a `stream` run: its lines, how many of them failed, the last error. */
export interface StreamTally {
  /** The device's name. */
  device: string;
  /** Readings printed (failed ones included: each is a line with "error"). */
  printed: number;
  /** Printed readings that failed. */
  failed: number;
  /** The last failed reading's error. */
  lastError?: string;
}

/**
 * What a `stream --count N` run that ran its N intervals lacks, or undefined when every device
 * gave its N lines and at least one good reading: a device that never answers is backed off (or
 * overruns its interval) and prints fewer lines, and a script reading N lines a device must not
 * take that for success (exit 1).
 *
 * @example
 * ```ts
 * import { countShortfall } from "./stream.ts";
 * countShortfall(5, [{ device: "gauge", printed: 2, failed: 2, lastError: "no answer" }]);
 * // "gauge: 3 of 5 readings missing, 2 failed (last error: no answer)"
 * ```
 */
export function countShortfall(count: number, tallies: readonly StreamTally[]): string | undefined {
  const short: string[] = [];
  for (const t of tallies) {
    const missing = count - t.printed;
    const why = t.lastError !== undefined
      ? ` (last error: ${t.lastError})`
      : " (its reads overran the interval; allow a longer --interval)";
    if (missing > 0) {
      short.push(
        `${t.device}: ${missing} of ${count} readings missing` +
          (t.failed > 0 ? `, ${t.failed} failed` : "") + why,
      );
    } else if (t.failed >= t.printed) {
      short.push(
        `${t.device}: ${count === 1 ? "its reading" : `all ${count} readings`} failed${why}`,
      );
    }
  }
  return short.length === 0 ? undefined : short.join("; ");
}

/** Runs `stream`. */
export async function runStream(args: string[]): Promise<number> {
  const opts = parseStreamArgs(args);
  const interrupts = listenForInterrupts();
  const lab = await openLab(opts);
  const stop = new AbortController();
  // A reader that left ends the stream also between slow readings (`--interval 1h | head -1`).
  const gone = watchStdoutReader();
  const signal = AbortSignal.any([interrupts.signal, stop.signal, gone.signal]);
  let pipeClosed = false;
  gone.signal.addEventListener("abort", () => pipeClosed = true, { once: true });
  let failure: unknown;
  let received = 0;
  let errors = 0;
  const subscriptions: Subscription[] = [];
  const tallies: StreamTally[] = [];
  let sampledFor = 0;
  try {
    // Every device is asked for its attributes first, NDJSON included: besides the table's and
    // CSV's columns, that first call opens the connections and warms each driver's code, so the
    // first tick's readings do not pay for them (a cold first poll of an in-process gauge
    // overran a 50 ms interval).
    const attrs = await lab.attrLists(opts.timeout);
    const out = await makeEmitter(lab, opts, attrs);
    for (const m of lab.managers) {
      const tally: StreamTally = { device: m.name, printed: 0, failed: 0 };
      tallies.push(tally);
      m.onReading((r) => {
        if (pipeClosed || failure) return;
        received++;
        tally.printed++;
        if (r.error !== undefined) {
          errors++;
          tally.failed++;
          tally.lastError = r.error;
        }
        try {
          out.emit(r);
        } catch (err) {
          if (err instanceof PipeClosed) pipeClosed = true;
          else failure = err;
          stop.abort();
        }
      });
    }
    const pushed = opts.poll || opts.interval !== undefined
      ? []
      : lab.managers.filter((m) => m.device.subscribe !== undefined);
    // Under --count each pushing device owes N updates, and one whose subscription failed owes
    // none more (it gets no updates: the stream waited for it until Ctrl-C). Once all have paid
    // their wait ends, not the run: polled devices still take their N intervals (an abort
    // stopped their sampler too, mid-count).
    let owing = pushed.length;
    const allPushed = Promise.withResolvers<void>();
    const paid = () => {
      if (--owing === 0) allPushed.resolve();
    };
    for (const m of pushed) {
      let updates = 0;
      try {
        const counted = () => {
          if (++updates === opts.count) paid();
        };
        subscriptions.push(await m.followPushed(opts.attrs, counted, { timeout: opts.timeout }));
      } catch (err) {
        m.publish({ t: Date.now() / 1000, device: m.name, values: {}, error: errorMessage(err) });
        if (opts.count !== undefined && updates < opts.count) paid();
      }
    }
    const polled = lab.managers.filter((m) => !pushed.includes(m)).map((m) => m.name);
    const attrsByDevice = opts.attrs
      ? Object.fromEntries(lab.names.map((n) => [n, opts.attrs]))
      : undefined;
    const sampler = new Sampler(lab, {
      signal,
      interval: opts.interval,
      count: opts.count,
      duration: opts.duration,
      attrs: attrsByDevice,
      devices: polled,
      timeout: opts.timeout,
    });
    const waits: Promise<unknown>[] = [];
    if (polled.length > 0) waits.push(sampler.run());
    if (pushed.length > 0) {
      waits.push(
        new Promise<void>((resolve) => {
          if (signal.aborted) return resolve();
          signal.addEventListener("abort", () => resolve(), { once: true });
          if (opts.count !== undefined) void allPushed.promise.then(resolve);
          if (opts.duration !== undefined) setTimeout(() => stop.abort(), opts.duration);
        }),
      );
    }
    const started = performance.now();
    await Promise.race([
      Promise.all(waits),
      new Promise((r) => signal.addEventListener("abort", r, { once: true })),
    ]);
    sampledFor = performance.now() - started;
    if (!pipeClosed) {
      try {
        out.finish();
      } catch (err) {
        if (!(err instanceof PipeClosed)) throw err;
      }
    }
    if (failure) throw failure;
    if (opts.stats) {
      const s = sampler.stats;
      console.error(JSON.stringify({
        devices: lab.managers.length,
        expected: s.expected,
        received,
        errors,
        missed: s.missed,
        backed_off: s.backedOff,
        lateness_ms: s.sampleLateness.stats(),
      }));
    } else if (sampler.stats.missed > 0) {
      console.error(`labwire stream: ${sampler.stats.missed} sampling deadlines missed`);
    }
    if (pipeClosed) return EXIT.ok;
    if (interrupts.received) return interrupts.exitCode();
    // --count ran its intervals (not cut short by --duration): each device owes N lines.
    if (
      opts.count !== undefined && (opts.duration === undefined || sampledFor < opts.duration)
    ) {
      const short = countShortfall(opts.count, tallies);
      if (short !== undefined) throw new DeviceError(short);
    }
    return EXIT.ok;
  } finally {
    gone.stop();
    stop.abort();
    await Promise.allSettled(subscriptions.map((s) => s.close()));
    interrupts.dispose();
    await lab.close();
  }
}

/** The `stream` verb. */
export const streamCommand: Command = {
  name: "stream",
  summary: "continuous readings: live table, NDJSON in a pipe, or CSV",
  run: runStream,
  help: `labwire stream — continuous readings of one or more devices

Usage: labwire stream TARGET… [--interval 1s] [--count N] [--duration 10m] [--format csv]

Every target is sampled concurrently on a drift-free schedule (deadlines at
start + k × interval, so nothing drifts over days; more than 64 devices at one
interval are spread over it in slots of 64). On a terminal you get a live
table that fits the terminal (a compact layout when it is narrow; --attrs picks
the columns), with the active alarms (the config's [[alarms]] and every
device's health) and the last events under it; in a pipe, one JSON object
per reading per line:
  {"t":1764088800.123,"device":"gauge","pressure":3.79,"pressure_units":"torr",…}
A failed read is a line with "error"; the stream goes on and the device is retried
with backoff. EPICS PVs (ca://) stream by monitor subscription, not polling.
Ctrl-C ends it (exit 130); a closed pipe ends it quietly (exit 0).

Flags:
  -i, --interval 1s    time between readings (default: each device's config
                       interval, 1 s for addresses)
  -n, --count N        stop after N intervals (N readings of each healthy device;
                       exit 1 naming each device that gave fewer, or only errors)
      --duration 10m   stop after this long
  -a, --attrs a,b      read these attributes only
  -f, --format F       table | ndjson | csv (default: table on a terminal, else ndjson)
      --json           same as --format ndjson
  -t, --timeout 2s     per-read timeout
      --poll           poll ca:// PVs instead of subscribing
      --stats          print a JSON summary on stderr at the end: expected and
                       received readings, missed deadlines, lateness p50/p99
  -c, --config FILE    config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo           use the built-in simulated bench

Examples:
  labwire stream --demo
  labwire stream --demo gauge thermo --interval 200ms | jq -c '{t, pressure}'
  labwire stream baratron://10.0.0.5 baratron://10.0.0.6 --format csv > log.csv
  labwire stream --demo | head -3
  labwire stream ca://XXX:m1.RBV
`,
};
