/**
 * `labwire scan PLAN …` — step scans (Spec's ascan/dscan/a2scan/mesh, bluesky's scan/rel_scan/
 * grid_scan/list_scan/count): move positioners, wait, settle, read detectors, record every point
 * in the session; a live table with progress on a terminal, NDJSON in a pipe; Ctrl-C keeps the
 * data and returns relative positioners; `--resume` finishes an interrupted scan.
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import {
  boolFlag,
  formatFlag,
  listFlag,
  parseFlags,
  stringFlag,
  timeFlags,
} from "../lib/cli/flags.ts";
import type { TimeOptions } from "../lib/output/time.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { UsageError } from "../lib/device/errors.ts";
import { Lab } from "../lib/lab/lab.ts";
import { loadLabConfig } from "../lib/lab/setup.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { colorEnabled, cursorAllowed, paint, stdoutIsTerminal } from "../lib/output/terminal.ts";
import {
  recordScanDevices,
  resumeScan,
  scanDeviceRecords,
  scanDevices,
  scanEndedEvent,
  scanStartedEvent,
} from "../lib/scan/session.ts";
import { makePlan } from "../lib/scan/plan.ts";
import { PLAN_NAMES } from "../lib/scan/plan_args.ts";
import { scanRequestFromFlags } from "../lib/scan/request_flags.ts";
import { ScanRun } from "../lib/scan/runner.ts";
import { sayScanEnd, scanSafeStates } from "../lib/scan/scan_end.ts";
import { checkColumnFile } from "../lib/scan/column_file.ts";
import { type ScanFormat, ScanOutput } from "../lib/scan/scan_output.ts";
import { type ScanAlarms, startScanAlarms, suspendRules } from "../lib/scan/suspender.ts";
import type { ScanRequest } from "../lib/scan/request.ts";
import { sessionParameters, sessionPath } from "../lib/session/path.ts";
import { ScanStore } from "../lib/session/scan_store.ts";
import { SessionStore } from "../lib/session/store.ts";

const FLAGS = {
  detectors: { type: "string", short: "d", multiple: true },
  trigger: { type: "string", multiple: true },
  settle: { type: "string" },
  dwell: { type: "string" },
  tolerance: { type: "string" },
  "move-timeout": { type: "string" },
  readback: { type: "string", multiple: true },
  log: { type: "boolean" },
  snake: { type: "boolean" },
  plan: { type: "string", short: "p" },
  devices: { type: "string", multiple: true },
  session: { type: "string", short: "s" },
  "no-session": { type: "boolean" },
  out: { type: "string", short: "o" },
  format: { type: "string", short: "f" },
  resume: { type: "string" },
  scan: { type: "string" },
  goto: { type: "string" },
  set: { type: "string", multiple: true },
  baseline: { type: "string", multiple: true },
  "suspend-on": { type: "string", multiple: true },
  "resume-after": { type: "string" },
} as const;

/** The parsed options of `scan`. */
export interface ScanOptions {
  /** The scan to run; undefined when resuming (it comes from the session). */
  request?: ScanRequest;
  /** Extra targets to open (addresses or config names). */
  devices: string[];
  /** `--session FILE`. */
  session?: string;
  /** `--no-session`: record nothing. */
  noSession: boolean;
  /** `--out FILE.csv`. */
  out?: string;
  /** Output format; undefined = table on a terminal, NDJSON in a pipe. */
  format?: ScanFormat;
  /** `--resume SESSION`: the session file of the scan to resume. */
  resume?: string;
  /** `--scan N` with `--resume`: which scan (default the last unfinished one). */
  scanId?: number;
  /** `--config FILE`. */
  config?: string;
  /** `--demo`. */
  demo: boolean;
  /** `--no-color`. */
  noColor: boolean;
  /** `--time epoch|iso` and `--utc`. */
  time: Required<TimeOptions>;
}

const NEGATIVE = "\u0000neg:";

/**
 * Most points a scan from the command line may have. Higher than the daemon's
 * `[server] max_scan_points` (1,000,000 by default): the CLI streams every point to stdout and
 * the session and keeps only the latest in memory, but a resumed scan holds the indices it
 * already has, so there is still a bound.
 */
export const CLI_MAX_SCAN_POINTS = 10_000_000;

const CLI_LIMIT_HINT = "split it into several scans";

/**
 * Reads a file a `scan` argument names (`--plan FILE`, `list POS @FILE`): a missing or unreadable
 * one is a mistake on the command line (exit 2), said in plain words, not the OS's exit-1 error.
 */
export function readArgumentFile(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new UsageError(`no file ${path}`);
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

/**
 * Parses `scan`'s arguments (pure, apart from reading `--plan` and `@FILE` files).
 *
 * @example
 * ```ts ignore
 * parseScanArgs(["ascan", "motor.position", "0", "10", "21", "-d", "det.counts"]).request?.plan.kind; // "line"
 * ```
 */
export function parseScanArgs(
  args: string[],
  readFile: (path: string) => string = readArgumentFile,
): ScanOptions {
  // negative numbers are positions, not flags: `dscan motor.position -1 1 11`
  const protectedArgs = args.map((a) => /^-(\d|\.\d)/.test(a) ? NEGATIVE + a : a);
  const f = parseFlags(protectedArgs, FLAGS, "scan");
  const unmark = (a: string) => a.startsWith(NEGATIVE) ? a.slice(NEGATIVE.length) : a;
  const positionals = f.positionals.map(unmark);
  // A negative value after a flag (`--settle -1s`) is the flag's, and its check says why it is wrong.
  for (const [k, v] of Object.entries(f.values)) {
    if (typeof v === "string") f.values[k] = unmark(v);
    else if (Array.isArray(v)) {
      f.values[k] = v.map((x) => typeof x === "string" ? unmark(x) : x) as string[];
    }
  }
  const format = formatFlag<ScanFormat>(f, ["table", "ndjson", "csv"]);
  const planFile = stringFlag(f, "plan");
  const resume = stringFlag(f, "resume");
  const scanText = stringFlag(f, "scan");
  const scanId = scanText === undefined ? undefined : Number(scanText);
  if (scanId !== undefined && !(Number.isInteger(scanId) && scanId > 0)) {
    throw new UsageError(`--scan: expected a scan number, got "${scanText}"`);
  }
  if (scanId !== undefined && resume === undefined) {
    throw new UsageError("--scan N picks the scan to resume; use it with --resume SESSION");
  }
  const opts: ScanOptions = {
    devices: listFlag(f, "devices") ?? [],
    session: stringFlag(f, "session"),
    noSession: boolFlag(f, "no-session"),
    out: stringFlag(f, "out"),
    format,
    resume,
    scanId,
    config: stringFlag(f, "config"),
    demo: boolFlag(f, "demo"),
    noColor: boolFlag(f, "no-color"),
    time: timeFlags(f),
  };
  if (resume !== undefined) {
    if (positionals.length > 0 || planFile) {
      throw new UsageError("--resume continues a recorded scan; give no plan with it");
    }
    if (opts.noSession) {
      throw new UsageError("--resume records into its session; drop --no-session");
    }
    return opts;
  }
  const built = scanRequestFromFlags(f, positionals, opts, readFile);
  opts.devices = built.devices;
  opts.request = built.request;
  return opts;
}

/** Runs `scan`. */
export async function runScan(args: string[]): Promise<number> {
  const opts = parseScanArgs(args);
  const p = paint(colorEnabled(opts.noColor, Deno.stderr.isTerminal()));
  const say = (s: string) => console.error(s);

  // Resume: the request, devices and session come from the recorded scan.
  let request = opts.request;
  let session: SessionStore | undefined;
  let resumeId: number | undefined;
  let sessionFile: string | undefined;
  if (opts.resume !== undefined) {
    const resumed = resumeScan(opts.resume, opts.scanId, { command: ["scan", ...args] });
    session = resumed.session;
    sessionFile = opts.resume;
    resumeId = resumed.id;
    request = resumed.request;
    opts.demo = resumed.demo;
    opts.config ??= resumed.config;
    opts.devices = resumed.devices;
  }
  if (!request) throw new UsageError("nothing to run");
  // refused before any device or session file is opened
  makePlan(request.plan, { maxPoints: CLI_MAX_SCAN_POINTS, limitHint: CLI_LIMIT_HINT });
  if (opts.out !== undefined) checkColumnFile(opts.out);

  let lab: Lab | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  let output: ScanOutput | undefined;
  let alarms: ScanAlarms | undefined;
  try {
    const loaded = await loadLabConfig({ config: opts.config, demo: opts.demo });
    cleanup = loaded.cleanup;
    const suspend = request.suspendOn?.length
      ? suspendRules(loaded.config, request.suspendOn)
      : undefined;
    const devices = scanDevices(
      request,
      opts.devices,
      loaded.config,
      suspend?.rules.map((r) => r.device),
    );
    lab = await Lab.open(loaded.config, devices);
    if (suspend) alarms = startScanAlarms(lab, suspend, (line) => say(p.dim(line)));
    const records = session || !opts.noSession ? await scanDeviceRecords(lab, request) : [];
    if (session) recordScanDevices(session, records);
    else if (!opts.noSession) sessionFile = sessionPath(loaded.config, opts.session, opts.demo);
    // A new scan's session file is opened when the scan is first recorded, after its checks
    // passed: a scan refused by them (a mistyped attribute, a limit) leaves no file or segment.
    const config = loaded.config;
    const recording = (file: string): SessionStore => {
      if (session) return session;
      session = SessionStore.open(file, {
        segment: {
          command: ["scan", ...args],
          configFile: config.file,
          configText: config.text,
          parameters: sessionParameters(config),
        },
      });
      recordScanDevices(session, records);
      return session;
    };
    const file = sessionFile;
    const store = file !== undefined ? new ScanStore(() => recording(file).db) : undefined;
    const command = `labwire scan ${args.join(" ")}`;
    const run = new ScanRun(lab, request, {
      store,
      resumeId,
      command,
      maxPoints: CLI_MAX_SCAN_POINTS,
      limitHint: CLI_LIMIT_HINT,
      warn: (m) => say(`${p.yellow("labwire scan:")} ${m}`),
      alarms: alarms?.engine,
    });

    const format = opts.format ?? (stdoutIsTerminal() ? "table" : "ndjson");
    const interrupts = listenForInterrupts({
      secondExits: false,
      onFirst: (sig) => {
        say(
          `${
            p.yellow("labwire scan:")
          } ${sig}: finishing the current point, then stopping (Ctrl-C again to stop at once)`,
        );
        run.stop(`interrupted by ${sig}`);
      },
      onSecond: () => {
        say(`${p.yellow("labwire scan:")} stopping at once`);
        run.abort("interrupted at once by a second SIGINT");
      },
    });
    try {
      const o = new ScanOutput(run, {
        format,
        stdout: stdoutSink,
        // The bar is redrawn by erasing its line, which a TERM=dumb terminal cannot do.
        progress: cursorAllowed(Deno.stderr.isTerminal())
          ? (s) => Deno.stderr.writeSync(new TextEncoder().encode(s))
          : undefined,
        paint: p,
        command,
        out: opts.out,
        resumed: resumeId !== undefined,
        time: opts.time,
        onStart: (s) => {
          const what = scanStartedEvent(session, s, command, resumeId !== undefined);
          say(
            p.dim(
              `${what}: ${s.total} points${sessionFile ? `, recording into ${sessionFile}` : ""}`,
            ),
          );
        },
      });
      output = o;
      const result = await run.start();
      o.finish();
      scanEndedEvent(session, result);
      // an interrupted scan leaves its positioners' devices in their safe states
      await scanSafeStates(lab, run.plan.positioners, result, session, (l) => say(p.dim(l)));
      sayScanEnd(result, {
        paint: p,
        say,
        sessionFile,
        baseline: request.baseline,
        precision: run.precision,
        pipeClosed: o.pipeClosed,
      });
      const { pipeClosed, outputError } = o;
      if (outputError) throw outputError;
      if (pipeClosed) return EXIT.ok;
      if (result.state === "failed") return EXIT.device;
      if (result.state === "stopped" || result.state === "aborted") {
        return interrupts.received ? interrupts.exitCode() : EXIT.interrupted;
      }
      return EXIT.ok;
    } finally {
      interrupts.dispose();
    }
  } finally {
    output?.close();
    await alarms?.close();
    await lab?.close();
    await cleanup?.();
    session?.close("scan ended");
  }
}

const planList = Object.entries(PLAN_NAMES).map(([n, d]) => `  ${n.padEnd(7)} ${d}`).join("\n");

/** The `scan` verb. */
export const scanCommand: Command = {
  name: "scan",
  summary: "step scans: ascan, dscan, a2scan, mesh, list, count — table, NDJSON, resume",
  run: runScan,
  help: `labwire scan — step scans: move positioners, wait, read detectors, record every point

Usage: labwire scan PLAN WORDS… --detectors DEV.ATTR,… [flags]
       labwire scan --plan scan.toml [flags]
       labwire scan --resume SESSION [--scan N]

Plans (N is a number of points; a positioner is any writable number DEV.ATTR):
${planList}

For every point all positioners are written at once; each is done when the device says
it stopped moving (drivers with a done signal, like sim://motor) or its read-back is
within --tolerance.
Then --settle, then every detector is read at once (averaged over --dwell). Limits are
checked for the whole plan before anything moves. Meshes run the first axis slowest.

Every point is recorded in the session file (default: ./labwire.session.sqlite, beside
the config file as NAME.session.sqlite, ./labwire-demo.session.sqlite with --demo; see
"labwire session info FILE"). On a terminal you get a table and a progress bar with ETA;
in a pipe one JSON object per point:
  {"scan":1,"point":0,"t":…,"motor.position":0,"motor.position_target":0,"det.counts":12}

Ctrl-C finishes the current point, returns relative (d…) positioners to their start,
keeps every point and exits 130 (also when that point then fails: it is not kept); a second
Ctrl-C stops at once (motors with a writable "stop" attr are told to stop, nothing moves
back). A device error stops the same safe way with exit 1. --resume continues a stopped scan at its first missing
point. A closed pipe ends the scan quietly (exit 0).

Flags:
  -d, --detectors a.b,c.d  detectors read at every point
      --settle 50ms        wait after the move before reading
      --trigger a.b,…      run these actions at every point after the settle, before the
                           detectors are read (e.g. dmm.initiate, an instrument's trigger)
      --dwell 100ms        sample the detectors repeatedly for this long (about every
                           10 ms) and record the mean of numeric values
      --tolerance X        read-back must be within X of the target (default: the
                           attr's precision; with a done signal only when given)
      --move-timeout 60s   fail the scan when a move takes longer
      --readback POS=ATTR  read the actual position from ATTR of the same device, or
                           POS=DEV.ATTR from another one (EPICS: m1.value=m1_rbv.value);
                           default: ATTR_readback or ATTR_rbv when it exists, and
                           the device's readback/rbv for its main setpoint only
      --goto peak|cen|com  when the scan completes, move the first positioner to the first
                           detector's peak, centre of its FWHM or centre of mass (Spec's
                           pic/cen); relative scans then do not return
      --set DEV.ATTR=V     write this before the first move (repeat for more; in order)
                           and write back the value it had when the scan ends
      --baseline DEV,…     read these devices at the start and the end; stored with
                           the scan (session, GET /api/scans/{id})
      --suspend-on A,…     pause while alarm A (from [[alarms]]; any: every alarm) is
                           active; the point it interrupted is taken again
      --resume-after 5s    resume once the alarms have been clear this long (default 5s)
      --log                log-spaced points (ascan/dscan)
      --snake              snake order (mesh): reverse inner axes on alternate passes
  -p, --plan FILE          a TOML plan file (see below)
      --devices T,…        open these targets too (addresses like sim://motor)
  -s, --session FILE       record into FILE
      --no-session         record nothing
  -o, --out FILE.csv       also write a column file with a # header (command, start
                           time, positioners, detectors, units)
  -f, --format F           table | ndjson | csv (default: table on a terminal, else ndjson)
      --json               same as --format ndjson
      --resume SESSION     continue the last unfinished scan of SESSION (or --scan N)
  -c, --config FILE        config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo               the built-in simulated bench (motor, det, dmm, thermo, gauge)

Plan file (scan.toml):
  plan = "dscan"                 # any plan above
  num = 21
  detectors = ["det.counts", "dmm.voltage"]
  triggers = ["dmm.trigger"]     # optional: actions run before each reading
  settle = "50ms"
  [[axes]]
  positioner = "motor.position"
  start = -1
  stop = 1
  # meshes: num per [[axes]] table; lists: [positions] "motor.position" = [1, 2, 5]

Examples:
  labwire scan --demo ascan motor.position 0 10 21 -d det.counts,dmm.voltage
  labwire scan --demo dscan motor.position -1 1 11 -d det.counts --settle 50ms
  labwire scan --demo --no-session lup motor.position 3 7 21 -d det.counts --goto cen
  labwire scan --demo --no-session ascan motor.position 4 6 5 -d det.counts --set det.count_time=0.5 --baseline thermo
  labwire scan --demo a2scan motor.position 0 1 thermo.setpoint 20 30 11 -d det.counts
  labwire scan --demo mesh motor.position 0 10 11 thermo.setpoint 20 25 6 --snake -d det.counts
  labwire scan --demo list motor.position 1,2,5 -d det.counts --out peak.csv
  labwire scan --demo count 10 -d det.counts,dmm.voltage --dwell 100ms
  labwire scan --devices sim://motor,sim://det ascan motor.position 0 10 21 -d det.counts | jq -c .
  labwire scan --demo --plan scan.toml
  labwire scan --resume labwire-demo.session.sqlite
`,
};
