/**
 * `labwire monitor [CONFIG]` — a long recording session of a whole bench: every configured
 * device sampled at its interval into a crash-safe session file, alarms as session events and
 * stderr lines; a live table on a terminal, NDJSON in a pipe (pymanip's `AsyncSession.monitor`).
 * The engine is {@linkcode startRecording} (shared with `serve`); this file only renders.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import {
  boolFlag,
  durationFlag,
  formatFlag,
  listFlag,
  parseFlags,
  stringFlag,
  timeFlags,
} from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { INTERVAL_RULE } from "../lib/config/duration.ts";
import type { Reading } from "../lib/device/device.ts";
import { errorMessage, UsageError } from "../lib/device/errors.ts";
import { Lab } from "../lib/lab/lab.ts";
import { loadLabConfig } from "../lib/lab/setup.ts";
import { readingLines } from "../lib/output/readings.ts";
import { PipeClosed, stdoutSink } from "../lib/output/stdout.ts";
import type { TimeOptions } from "../lib/output/time.ts";
import { LiveTable, loadTableRenderer } from "../lib/output/table.ts";
import {
  colorEnabled,
  cursorAllowed,
  paint,
  stdoutIsTerminal,
  terminalSize,
} from "../lib/output/terminal.ts";
import type { ActiveAlarm } from "../lib/alarm/engine.ts";
import { type AlarmEvent, isEventLine } from "../lib/alarm/event.ts";
import { percentile } from "../lib/schedule/percentile.ts";
import { sessionParameters, sessionPath } from "../lib/session/path.ts";
import { startRecording } from "../lib/session/recording.ts";
import { SessionStore } from "../lib/session/store.ts";

const FLAGS = {
  session: { type: "string", short: "s" },
  duration: { type: "string" },
  interval: { type: "string", short: "i" },
  format: { type: "string", short: "f" },
  note: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  attrs: { type: "string", short: "a", multiple: true },
} as const;

/** Output formats of `monitor`. */
export type MonitorFormat = "table" | "ndjson" | "csv" | "none";

/** The parsed options of `monitor`. */
export interface MonitorOptions {
  /** Config file (positional CONFIG or `--config`). */
  config?: string;
  /** `--demo`. */
  demo: boolean;
  /** Session file, when given. */
  session?: string;
  /** Stop after this long, ms. */
  duration?: number;
  /** Interval override for every device, ms. */
  interval?: number;
  /** Output format; undefined = table on a terminal, NDJSON in a pipe. */
  format?: MonitorFormat;
  /** A note stored as the segment's first event. */
  note?: string;
  /** `--no-color`. */
  noColor: boolean;
  /** Columns of the live table (`--attrs`); everything is recorded whatever they are. */
  attrs?: string[];
  /** `--time epoch|iso` and `--utc`. */
  time: Required<TimeOptions>;
}

/** Parses `monitor`'s arguments (pure). */
export function parseMonitorArgs(args: string[]): MonitorOptions {
  const f = parseFlags(args, FLAGS, "monitor");
  if (f.positionals.length > 1) {
    throw new UsageError(
      `one CONFIG file at most, got ${f.positionals.length}: ${f.positionals.join(" ")}`,
      "devices come from the config file; to watch addresses use: labwire stream TARGET…",
    );
  }
  const positional = f.positionals[0];
  const flagConfig = stringFlag(f, "config");
  if (positional !== undefined && flagConfig !== undefined) {
    throw new UsageError("give the config either as CONFIG or as --config, not both");
  }
  const interval = durationFlag(f, "interval", INTERVAL_RULE);
  let format = formatFlag<MonitorFormat>(f, ["table", "ndjson", "csv", "none"]);
  if (boolFlag(f, "quiet")) format = "none";
  return {
    config: positional ?? flagConfig,
    demo: boolFlag(f, "demo"),
    session: stringFlag(f, "session"),
    duration: durationFlag(f, "duration"),
    interval,
    format,
    note: stringFlag(f, "note"),
    noColor: boolFlag(f, "no-color"),
    attrs: listFlag(f, "attrs"),
    time: timeFlags(f),
  };
}

/** What `monitor` prints to: readings, a footer, alarm transitions and messages. */
interface MonitorOutput {
  emit: (r: Reading) => void;
  footer: (s: string) => void;
  finish: () => void;
  /** Shows an alarm transition (the live table's status area; elsewhere the log line does). */
  alarm: (e: AlarmEvent) => void;
  /** Shows the active alarms from this source (the live table's status area). */
  watchAlarms: (source: () => ActiveAlarm[]) => void;
  /** Says something to the person watching: under the live table, else on stderr. */
  say: (line: string) => void;
  /** True when alarm transition lines are shown by the output itself (not needed on stderr). */
  showsAlarms: boolean;
}

async function makeOutput(
  lab: Lab,
  opts: MonitorOptions,
): Promise<MonitorOutput> {
  const format = opts.format ?? (stdoutIsTerminal() ? "table" : "ndjson");
  const none: MonitorOutput = {
    emit: () => {},
    footer: () => {},
    finish: () => {},
    alarm: () => {},
    watchAlarms: () => {},
    say: (line) => console.error(line),
    showsAlarms: false,
  };
  if (format === "none") return none;
  if (format === "ndjson") return { ...none, ...readingLines(format, { time: opts.time }) };
  // Columns need attribute lists; a hung device may hold its own back for 1 s, no longer.
  const attrs = await lab.attrLists(1000);
  // The CSV columns are every status attribute: --attrs picks the table's columns only.
  if (format === "csv") return { ...none, ...readingLines(format, { time: opts.time, attrs }) };
  await loadTableRenderer();
  let active: () => ActiveAlarm[] = () => [];
  const table = new LiveTable({
    write: (s) => stdoutSink.write(s),
    paint: paint(colorEnabled(opts.noColor)),
    attrs,
    size: terminalSize,
    cursor: cursorAllowed(),
    utc: opts.time.utc,
    alarms: () => active(),
    only: opts.attrs,
  });
  // A line on stderr under a table redrawn in place would be erased by the next redraw (or
  // leave a stale copy): on the same screen, messages go into the table's status area.
  const sameScreen = cursorAllowed() && Deno.stderr.isTerminal();
  return {
    emit: (r) => table.update(r),
    footer: (s) => table.footer(s),
    finish: () => table.finish(),
    alarm: (e) => table.alarm(e),
    watchAlarms: (source) => {
      active = source;
    },
    say: (line) => sameScreen ? table.note(line) : console.error(line),
    showsAlarms: sameScreen,
  };
}

/** Runs `monitor`. */
export async function runMonitor(
  args: string[],
  argv: string[] = ["monitor", ...args],
): Promise<number> {
  const opts = parseMonitorArgs(args);
  const say = { line: (l: string) => console.error(l) };
  const interrupts = listenForInterrupts({
    onFirst: (sig) => say.line(`labwire monitor: ${sig}: flushing the session and stopping…`),
  });
  try {
    const { config, cleanup } = await loadLabConfig(opts);
    let lab: Lab | undefined;
    try {
      if (config.devices.length === 0) {
        throw new UsageError(
          "no devices: give a config file with [devices.NAME] tables",
          "try: labwire monitor --demo   or   labwire monitor bench.toml",
        );
      }
      // The session is opened before any device: an unwritable path or a full disk fails now.
      const path = sessionPath(config, opts.session, opts.demo);
      const store = SessionStore.open(path, {
        segment: {
          command: argv,
          configFile: config.file,
          configText: config.text,
          version: denoJson.version,
          parameters: sessionParameters(config),
        },
      });
      try {
        lab = await Lab.open(config);
      } catch (err) {
        store.close(`failed to open devices: ${errorMessage(err)}`);
        throw err;
      }
      if (opts.note) store.event({ kind: "note", severity: "info", message: opts.note });
      return await record(lab, store, path, opts, interrupts, say);
    } finally {
      await lab?.close();
      await cleanup();
    }
  } finally {
    interrupts.dispose();
  }
}

async function record(
  lab: Lab,
  store: SessionStore,
  path: string,
  opts: MonitorOptions,
  interrupts: ReturnType<typeof listenForInterrupts>,
  say: { line: (l: string) => void },
): Promise<number> {
  let storeError: unknown;
  let pipeClosed = false;
  let outputError: unknown;
  // The output is ready before sampling starts, so stdout shows the first readings too.
  const out = await makeOutput(lab, opts).catch((err) => {
    store.close("output failed");
    throw err;
  });
  say.line = out.say;
  let rec: Awaited<ReturnType<typeof startRecording>> | undefined;
  const offs = lab.managers.map((m) =>
    m.onReading((r) => {
      if (pipeClosed || outputError) return;
      try {
        out.emit(r);
      } catch (err) {
        // A closed stdout ends the output, and the run: nobody reads it any more.
        if (err instanceof PipeClosed) pipeClosed = true;
        else outputError = err;
        void rec?.stop(pipeClosed ? "stdout closed" : "output failed");
      }
    })
  );
  try {
    rec = await startRecording(lab, {
      session: store,
      interval: opts.interval,
      duration: opts.duration,
      signal: interrupts.signal,
      // Transitions are shown by the table's status area when it is on this screen.
      log: (line) => out.showsAlarms && isEventLine(line) ? undefined : out.say(line),
      onAlarm: (e) => out.alarm(e),
      onStoreError: (err) => {
        out.say(
          `labwire monitor: writing the session ${path} failed: ${
            errorMessage(err)
          }; still sampling (alarms on), keeping up to 500,000 samples in memory and retrying; ` +
            "free some disk space",
        );
      },
      onStoreRecover: (o) => {
        out.say(
          `labwire monitor: the session is written again after ${
            (o.durationMs / 1000).toFixed(1)
          } s (${o.errors} failed attempts, ${o.dropped} samples dropped)`,
        );
      },
    });
  } catch (err) {
    for (const off of offs) off();
    throw err;
  }
  const recording = rec;
  if (recording.alarms) out.watchAlarms(() => recording.alarms!.active());
  if (pipeClosed || outputError) {
    void recording.stop(pipeClosed ? "stdout closed" : "output failed");
  }
  out.say(
    `labwire monitor: recording ${lab.managers.length} device${
      lab.managers.length === 1 ? "" : "s"
    } into ${path} (segment ${store.segmentId}); Ctrl-C stops`,
  );
  const footer = setInterval(() => {
    const s = recording.sampler.stats;
    out.footer(
      `${recording.recorder.stats.values} values · ${recording.recorder.stats.failed} failed reads · ${s.missed} missed deadlines · ${path}`,
    );
  }, 1000);
  let reason = "session store failed";
  try {
    reason = await recording.done;
  } catch (err) {
    // The store still failed at the end: what was buffered could not be written.
    storeError = err;
  } finally {
    clearInterval(footer);
    for (const off of offs) off();
  }
  say.line = (l) => console.error(l);
  if (!pipeClosed) {
    try {
      out.finish();
    } catch (err) {
      if (!(err instanceof PipeClosed)) throw err;
    }
  }
  if (pipeClosed && !storeError) return EXIT.ok;
  const s = recording.sampler.stats;
  const w = recording.store.writer.stats;
  const p99 = s.lateness.length ? percentile(s.lateness, 99) : 0;
  console.error(
    `labwire monitor: ${reason}; ${recording.recorder.stats.readings} readings, ${recording.recorder.stats.values} values, ${recording.recorder.stats.failed} failed reads, ${s.missed} missed deadlines, lateness p99 ${
      p99.toFixed(2)
    } ms${
      w.errors > 0 ? `; ${w.errors} failed session writes, ${w.dropped} samples dropped` : ""
    }; session ${path}`,
  );
  if (storeError) {
    throw new Error(
      `writing the session ${path} failed: ${
        errorMessage(storeError)
      }; the last ${w.dropped} samples were not saved; free some disk space or record elsewhere with --session FILE`,
    );
  }
  if (outputError) throw outputError;
  if (pipeClosed) return EXIT.ok;
  return interrupts.received ? interrupts.exitCode() : EXIT.ok;
}

/** The `monitor` verb. */
export const monitorCommand: Command = {
  name: "monitor",
  summary: "record a whole bench into a session file, with alarms",
  run: (args) => runMonitor(args),
  help: `labwire monitor — record every configured device into a session file

Usage: labwire monitor [CONFIG] [--session FILE] [--duration 1h] [--interval 1s]

Samples every device of the config at its interval (drift-free deadlines) and
records each value into a session file (SQLite, one file per session). Writes
are committed within 100 ms of each sample, so a crash or kill -9 loses well under a
second. Running the same command again appends a new segment to the same file.
Device errors and missed deadlines are recorded as events; [[alarms]] from the
config are evaluated on every reading, and each alarm transition is a session
event and a line on stderr.

On a terminal you get a live table that fits the terminal (narrow terminals get
a compact layout), with the active alarms (severity, device.attr, value, since
when) and the last events under it; in a pipe, one JSON object per reading:
  {"t":1764088800.123,"device":"gauge","pressure":3.79,…}
(with "error" for a failed read). Inspect the file with: labwire session info FILE

Session file: --session FILE, else [session] path in the config (relative to
the config file), else beside the config as NAME.session.sqlite
(labwire.toml → labwire.session.sqlite); with --demo ./labwire-demo.session.sqlite.
An unwritable path, a session another monitor is recording into, or a disk with
less than 64 MB free is an error at start (exit 2), and no file is created. If
writing fails later (disk full), sampling and alarms go on: up to 500,000
samples wait in memory while writes are retried, and recording resumes once
the disk has room. A hung device delays only its own readings (recorded as gaps).

Stopping: Ctrl-C (SIGINT) flushes, closes the segment and exits 130; SIGTERM
(systemd stop) does the same and exits 0; a second Ctrl-C exits at once. A
closed stdout pipe stops quietly with exit 0.

Flags:
  -s, --session FILE   session file (see above)
      --duration 1h    stop after this long
  -i, --interval 1s    sample every device at this interval (default: each
                       device's config interval, 1 s if unset)
  -f, --format F       table | ndjson | csv | none (default: table on a
                       terminal, else ndjson)
      --json           same as --format ndjson
  -q, --quiet          record only, print nothing on stdout (--format none)
      --note TEXT      store a note with this segment
  -a, --attrs a,b      columns of the live table (default: each device's status
                       attributes; every attribute is recorded either way)
  -c, --config FILE    config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo           record the built-in simulated bench

Examples:
  labwire monitor --demo --duration 1m
  labwire monitor bench.toml --session /data/run42.session.sqlite --quiet
  labwire monitor bench.toml | jq -c 'select(.device == "gauge")'
  labwire session info bench.session.sqlite
`,
};
