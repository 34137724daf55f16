/**
 * `labwire session list|info|export|tail` — inspect and export recorded sessions
 * (`pymanip info`, QCoDeS export).
 *
 * @module
 */
import { join } from "node:path";
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import {
  boolFlag,
  durationFlag,
  intFlag,
  listFlag,
  parseFlags,
  stringFlag,
  timeFlags,
} from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { inSubcommand, UsageError } from "../lib/device/errors.ts";
import { suggestionThen } from "../lib/device/suggest.ts";
import { jsonDocument } from "../lib/output/record.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { watchStdoutReader } from "../lib/output/reader_gone.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";
import { exportSession, sampleLine } from "../lib/session/export.ts";
import { tailSession } from "../lib/session/tail.ts";
import { renderSummary, summarize, summaryDocument } from "../lib/session/info.ts";
import { humanDateTime, machineTime, type TimeOptions } from "../lib/output/time.ts";
import { parseTimeArg } from "../lib/cli/time_args.ts";
import { type EventInfo, type Sample, SessionReader } from "../lib/session/reader.ts";
import { exportScan } from "../lib/session/scan_export.ts";
import { formatBytes } from "../lib/session/file.ts";
import { addEntry, addNote, parseEntryValues } from "../lib/session/entries.ts";

const FLAGS = {
  format: { type: "string", short: "f" },
  from: { type: "string" },
  to: { type: "string" },
  attrs: { type: "string", short: "a", multiple: true },
  scan: { type: "string" },
  lines: { type: "string", short: "n" },
  poll: { type: "string" },
} as const;

/** The subcommands of `session` (also what its completion offers). */
export const SUBCOMMANDS = ["list", "info", "export", "tail", "note", "add"];

function one(positionals: string[], what: string): string {
  const file = positionals[1];
  const at = { subcommand: what };
  if (file === undefined) throw new UsageError("give the session FILE", undefined, at);
  if (positionals.length > 2) {
    throw new UsageError(`one FILE, got ${positionals.slice(1).join(" ")}`, undefined, at);
  }
  return file;
}

/** Runs `session`. */
export async function runSession(args: string[]): Promise<number> {
  const f = parseFlags(args, FLAGS, "session");
  const sub = f.positionals[0];
  if (sub === undefined || !SUBCOMMANDS.includes(sub)) {
    throw new UsageError(
      sub === undefined ? "give a subcommand" : `unknown subcommand "${sub}"`,
      suggestionThen(
        sub,
        SUBCOMMANDS,
        `subcommands: ${SUBCOMMANDS.join(", ")}; see: labwire session --help`,
      ),
    );
  }
  // A pipe gets data (the output contract): list and info print their --json document into one.
  const json = boolFlag(f, "json") || !stdoutIsTerminal();
  const time = timeFlags(f);
  try {
    switch (sub) {
      case "list":
        return list(f.positionals[1] ?? ".", json, time);
      case "info": {
        const reader = SessionReader.open(one(f.positionals, "info"));
        try {
          const s = summarize(reader);
          stdoutSink.write(
            json
              ? jsonDocument(summaryDocument(s, time), stdoutIsTerminal())
              : renderSummary(s, time),
          );
        } finally {
          reader.close();
        }
        return EXIT.ok;
      }
      case "export":
        return exportCommand(one(f.positionals, "export"), f, time);
      case "note": {
        const [, file, ...words] = f.positionals;
        if (file === undefined) {
          throw new UsageError('give FILE "text"', undefined, { subcommand: "note" });
        }
        const e = addNote(file, words.join(" "));
        console.error(`note ${e.id} added to ${file} at ${humanDateTime(e.t, time)}`);
        return EXIT.ok;
      }
      case "add": {
        const [, file, ...words] = f.positionals;
        if (file === undefined) {
          throw new UsageError("give FILE KEY=VALUE…", undefined, { subcommand: "add" });
        }
        const values = parseEntryValues(words);
        const e = addEntry(file, values);
        console.error(`entry ${e.id} added to ${file} at ${humanDateTime(e.t, time)}`);
        return EXIT.ok;
      }
      default:
        return await tail(one(f.positionals, "tail"), f, time);
    }
  } catch (err) {
    // what the readers and writers refuse is said under the subcommand, as its own mistakes
    throw inSubcommand(err, sub);
  }
}

function exportCommand(
  file: string,
  f: ReturnType<typeof parseFlags>,
  time: TimeOptions,
): number {
  const scan = intFlag(f, "scan", 1);
  // A scan exports as the column file `scan --out` writes unless asked otherwise; samples have
  // two equally likely shapes (wide CSV, narrow NDJSON), so the format is asked for.
  const format = stringFlag(f, "format") ??
    (boolFlag(f, "json") ? "ndjson" : scan !== undefined ? "csv" : undefined);
  if (format !== "csv" && format !== "ndjson") {
    throw new UsageError(
      format === undefined
        ? "give --format csv or --format ndjson"
        : `--format: "${format}" is not one of csv, ndjson`,
      undefined,
      { subcommand: "export" },
    );
  }
  const from = stringFlag(f, "from");
  const to = stringFlag(f, "to");
  const range = {
    from: from === undefined ? undefined : parseTimeArg(from, "--from"),
    to: to === undefined ? undefined : parseTimeArg(to, "--to"),
  };
  const reader = SessionReader.open(file);
  try {
    if (scan !== undefined) {
      stdoutSink.write(exportScan(reader.db, scan, format, time));
      return EXIT.ok;
    }
    exportSession(
      reader,
      { format, ...range, attrs: listFlag(f, "attrs"), time },
      (text) => stdoutSink.write(text),
    );
    return EXIT.ok;
  } finally {
    reader.close();
  }
}

function isLocked(path: string): boolean {
  let file: Deno.FsFile | undefined;
  try {
    file = Deno.openSync(path, { read: true });
    const free = file.tryLockSync(false);
    if (free) file.unlockSync();
    return !free;
  } catch {
    return false;
  } finally {
    file?.close();
  }
}

function list(dir: string, json: boolean, time: TimeOptions): number {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (err) {
    throw new UsageError(
      err instanceof Deno.errors.NotFound
        ? `no directory ${dir}`
        : `cannot read directory ${dir}: ${(err as Error).message}`,
      undefined,
      { subcommand: "list" },
    );
  }
  const rows = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isFile || !/\.(sqlite|sqlite3|db)$/i.test(e.name)) continue;
    const path = join(dir, e.name);
    let reader: SessionReader;
    try {
      reader = SessionReader.open(path);
    } catch {
      continue;
    }
    try {
      const s = summarize(reader);
      // A session of scans only has no samples: its runs (segments) say when it was used.
      const starts = s.segments.map((g) => g.start);
      const ends = s.segments.map((g) => g.stop ?? g.last ?? g.start);
      rows.push({
        path,
        bytes: s.bytes,
        first: s.first ?? (starts.length ? Math.min(...starts) : undefined),
        last: s.last ?? (ends.length ? Math.max(...ends) : undefined),
        samples: s.samples,
        scans: s.scans.length,
        devices: s.devices.length,
        segments: s.segments.length,
        recording: isLocked(path),
      });
    } finally {
      reader.close();
    }
  }
  if (json) {
    const at = (t: number | undefined) => t === undefined ? null : machineTime(t, time);
    const doc = rows.map((r) => ({ ...r, first: at(r.first), last: at(r.last) }));
    stdoutSink.write(jsonDocument(doc, stdoutIsTerminal()));
    return EXIT.ok;
  }
  if (rows.length === 0) {
    console.error(`labwire session list: no session files in ${dir}`);
    return EXIT.ok;
  }
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  for (const r of rows) {
    const when = r.first === undefined
      ? "empty"
      : `${humanDateTime(r.first, time)} → ${humanDateTime(r.last ?? r.first, time)}`;
    const what = [
      ...(r.samples > 0 || r.scans === 0 ? [plural(r.samples, "sample")] : []),
      ...(r.scans > 0 ? [plural(r.scans, "scan")] : []),
      plural(r.devices, "device"),
      plural(r.segments, "segment"),
    ];
    stdoutSink.write(
      `${r.path}  ${formatBytes(r.bytes)}  ${when}  ${what.join(", ")}${
        r.recording ? "  (recording)" : ""
      }\n`,
    );
  }
  return EXIT.ok;
}

async function tail(
  file: string,
  f: ReturnType<typeof parseFlags>,
  time: TimeOptions,
): Promise<number> {
  const iso = (t: number) => humanDateTime(t, { utc: time.utc, ms: true });
  // Flags first: a mistake in them is exit 2 whatever the file.
  const lines = intFlag(f, "lines", 0) ?? 10;
  const poll = durationFlag(f, "poll", { min: 1, max: 3_600_000, bareUnit: "ms" }) ?? 500;
  const reader = SessionReader.open(file);
  const interrupts = listenForInterrupts();
  const pretty = !boolFlag(f, "json") && stdoutIsTerminal();
  const sampleText = (s: Sample) => {
    const a = reader.attr(s.attrId);
    const device = a?.device ?? "?";
    const attr = a?.attr ?? String(s.attrId);
    if (pretty) {
      return `${iso(s.t)}  ${device}.${attr} = ${JSON.stringify(s.value)}${
        a?.units ? ` ${a.units}` : ""
      }\n`;
    }
    return sampleLine(machineTime(s.t, time), device, attr, s.value);
  };
  const eventLine = (e: EventInfo) =>
    pretty
      ? `${iso(e.t)}  [${e.kind}] ${e.device ? `${e.device}: ` : ""}${e.message}\n`
      : JSON.stringify({
        t: machineTime(e.t, time),
        event: e.kind,
        severity: e.severity,
        device: e.device,
        attr: e.attr,
        message: e.message,
      }) + "\n";
  // A reader that left (`| head -1`) ends the following too, also while nothing new comes.
  const gone = watchStdoutReader();
  try {
    const signal = AbortSignal.any([interrupts.signal, gone.signal]);
    const batches = tailSession(reader, { lines, pollMs: poll, signal });
    for await (const b of batches) {
      for (const e of b.events) stdoutSink.write(eventLine(e));
      let text = "";
      for (const s of b.samples) text += sampleText(s);
      if (text) stdoutSink.write(text);
    }
    return interrupts.exitCode();
  } finally {
    gone.stop();
    interrupts.dispose();
    reader.close();
  }
}

/** The `session` verb. */
export const sessionCommand: Command = {
  name: "session",
  summary: "list, inspect, export and follow recorded sessions",
  run: runSession,
  help: `labwire session — inspect and export recorded sessions

Usage:
  labwire session list [DIR] [--json]
  labwire session info FILE [--json]
  labwire session export FILE --format csv|ndjson [--from T] [--to T] [--attrs dev.attr,…]
  labwire session export FILE --scan N [--format csv|ndjson]   (default csv)
  labwire session tail FILE [--lines N] [--json]
  labwire session note FILE "text"
  labwire session add FILE KEY=VALUE…

list     session files in DIR (default .): time range, samples, devices,
         segments, and whether a monitor is recording into it now; in a pipe
         (or with --json) one JSON document, an array of files
info     devices and attributes (units, sample counts), time range, segments
         (each run of monitor/serve), gaps (missed deadlines), device errors,
         alarms and scans; in a pipe (or with --json) one JSON document
export   samples to stdout, streamed (a week of data is fine):
           csv     wide: a "t" column then one column per device.attr, a
                   second header line with units, one row per timestamp
           ndjson  one line per sample: {"t":…,"device":…,"attr":…,"value":…}
         --from/--to take ISO times, local without an offset (2026-11-25T10:00)
         or with one (2026-11-25T10:00:00Z), epoch seconds, now, or a duration
         back from now (-1h);
         --attrs selects columns (device.attr, or device for all of it);
         --scan N exports scan N as scan --out writes it (CSV unless --format)
tail     prints the last N samples and events (default 10), then follows the
         session as a monitor writes it, until Ctrl-C or its reader leaves
         (| head -1 ends it even when nothing new comes); NDJSON in a pipe
note     records a timestamped note (a "note" event), also while a monitor or
         serve records into the file
add      records manual values (an "entry" event: numbers, true/false or text),
         like pymanip's add_entry; info shows notes, entries and the config's
         [session.parameters]

Flags:
  -f, --format F     csv | ndjson (export)
      --from T       first time to export
      --to T         last time to export
  -a, --attrs LIST   columns to export
      --scan N       export scan N
  -n, --lines N      tail: samples and events to show first (default 10)
      --poll 500ms   tail: how often to look for new rows
      --json         JSON output also on a terminal (info, list, tail)
      --time iso     times in JSON and CSV as ISO 8601 with offset (default:
                     epoch seconds)
      --utc          show times in UTC (default: local time with its zone)

Examples:
  labwire session list
  labwire session info labwire-demo.session.sqlite
  labwire session export bench.session.sqlite --format csv > bench.csv
  labwire session export bench.session.sqlite --format ndjson --attrs gauge.pressure \\
      --from 2026-11-25T10:00:00Z | jq -c 'select(.value > 1e-3)'
  labwire session export bench.session.sqlite --format csv --from -1h --time iso
  labwire session tail bench.session.sqlite
  labwire session note bench.session.sqlite "valve V3 opened, pumping"
  labwire session add bench.session.sqlite flow_sccm=20 valve=open
`,
};
