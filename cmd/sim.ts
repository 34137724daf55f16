/**
 * `labwire sim KIND …` — run faithful simulators of real instruments on local ports, for
 * testing a setup without hardware. Kinds: `baratron` (MKS eBaratron over ToolWeb HTTP), and
 * every instrument definition (`labwire instruments list`), served over TCP or, with `--pty`,
 * on a pseudo-terminal of its own. Prints one address per simulated device on stdout; logs go
 * to stderr.
 *
 * @module
 */
import { type ListenAddress, parseListen } from "../lib/device/host_port.ts";
import type { Command } from "../lib/cli/command.ts";
import {
  durationFlag,
  intFlag,
  type ParsedFlags,
  parseFlags,
  stringFlag,
} from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { didYouMean } from "../lib/device/suggest.ts";
import { UsageError } from "../lib/device/errors.ts";
import { parseFaults } from "../lib/drivers/sim/faults.ts";
import { UNITS } from "../lib/drivers/baratron/fields.ts";
import {
  BARATRON_SIM_LISTEN,
  type SimRunOptions,
  startSimulators,
} from "../lib/drivers/simulators.ts";
import { watchStdoutReader } from "../lib/output/reader_gone.ts";
import { stdoutSink, type TextSink } from "../lib/output/stdout.ts";
import { BUILTIN_DEFINITIONS } from "../lib/instruments/builtin.ts";
import { instrumentNames } from "../lib/instruments/loader.ts";
import { fdBudget, tooManyFds } from "../lib/transport/fd_limit.ts";

/** Simulator kinds `labwire sim` runs by code; every instrument definition is a kind too. */
export const SIM_KINDS = ["baratron"] as const;

/** The kinds known without reading user definitions: baratron and the built-in instruments. */
export function builtinSimKinds(): string[] {
  return [...SIM_KINDS, ...Object.keys(BUILTIN_DEFINITIONS).map((f) => f.replace(/\.toml$/, ""))];
}

/** Flags that only the baratron simulator takes. */
const BARATRON_FLAGS = ["units", "full-scale", "pressure", "warmup"];

const FLAGS = {
  listen: { type: "string", short: "l" },
  count: { type: "string", short: "n" },
  seed: { type: "string" },
  latency: { type: "string" },
  jitter: { type: "string" },
  "timeout-rate": { type: "string" },
  "error-rate": { type: "string" },
  "garbage-rate": { type: "string" },
  "disconnect-rate": { type: "string" },
  "disconnect-for": { type: "string" },
  units: { type: "string" },
  "full-scale": { type: "string" },
  pressure: { type: "string" },
  warmup: { type: "string" },
  unit: { type: "string", multiple: true },
  pty: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
} as const;

/** Parses `sim --listen` (`lib/device/host_port.ts`), with the sim's default in its hint. */
export function parseSimListen(text: string): ListenAddress {
  return parseListen(text, BARATRON_SIM_LISTEN);
}

function numberFlag(f: ParsedFlags, name: string): number | undefined {
  const v = stringFlag(f, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) {
    throw new UsageError(`--${name}: expected a number ≥ 0, got "${v}"`);
  }
  return n;
}

/**
 * Parses `sim`'s arguments (pure; tested on its own). `kinds` are the names accepted (by
 * default baratron and the built-in instruments; `runSim` adds user definitions).
 */
export function parseSimArgs(
  args: string[],
  kinds: readonly string[] = builtinSimKinds(),
): SimRunOptions {
  const f = parseFlags(args, FLAGS, "sim");
  for (const flag of ["demo", "config"]) {
    if (f.values[flag] !== undefined) {
      throw new UsageError(
        `--${flag} does not apply to sim: it serves simulators, it does not read devices`,
        "try: labwire sim baratron, then labwire read baratron://127.0.0.1:8081",
      );
    }
  }
  const [kind, ...extra] = f.positionals;
  if (kind === undefined) {
    throw new UsageError(
      "which simulator? give a kind",
      `kinds: ${kinds.join(", ")}; e.g. labwire sim baratron --listen 127.0.0.1:8081`,
    );
  }
  if (!kinds.includes(kind)) {
    throw new UsageError(
      `unknown kind "${kind}"`,
      didYouMean(kind, kinds) || `kinds: ${kinds.join(", ")} (labwire instruments list)`,
    );
  }
  const isBaratron = kind === "baratron";
  for (const flag of isBaratron ? ["unit", "pty"] : BARATRON_FLAGS) {
    if (f.values[flag] !== undefined) {
      throw new UsageError(
        `--${flag} does not apply to ${kind}`,
        isBaratron
          ? "--unit and --pty are for instrument definitions, e.g. labwire sim alicat --pty"
          : `--${flag} is for the baratron simulator; see labwire sim --help`,
      );
    }
  }
  const unitLetters = (f.values.unit as string[] | undefined)?.flatMap((u) => u.split(","))
    .map((u) => u.trim().toUpperCase()).filter((u) => u !== "");
  for (const u of unitLetters ?? []) {
    if (!/^[A-Z]$/.test(u) && !/^\d{1,3}$/.test(u)) {
      throw new UsageError(
        `--unit: "${u}" is not a unit letter A–Z (Alicat) or a unit id 1…247 (Modbus)`,
      );
    }
  }
  if (extra.length > 0) {
    throw new UsageError(
      `unexpected argument "${extra[0]}"`,
      "one kind per command; use --count N for several devices",
    );
  }
  if (f.values.pty === true && f.values.listen !== undefined) {
    throw new UsageError(
      "--pty and --listen: choose one",
      "--pty serves a pseudo-terminal, --listen a TCP port",
    );
  }
  const { hostname, port } = parseSimListen(
    stringFlag(f, "listen") ?? (isBaratron ? BARATRON_SIM_LISTEN : "127.0.0.1:0"),
  );
  const count = intFlag(f, "count", 1) ?? 1;
  if (port !== 0 && port + count - 1 > 65535) {
    throw new UsageError(
      `${count} devices from port ${port} would go past port 65535`,
      "choose a lower --listen port, or port 0 for any free ports",
    );
  }
  const faults = parseFaults({
    latency: stringFlag(f, "latency"),
    jitter: stringFlag(f, "jitter"),
    timeout_rate: stringFlag(f, "timeout-rate"),
    error_rate: stringFlag(f, "error-rate"),
    garbage_rate: stringFlag(f, "garbage-rate"),
    disconnect_rate: stringFlag(f, "disconnect-rate"),
    disconnect_for: stringFlag(f, "disconnect-for"),
  });
  const units = stringFlag(f, "units");
  if (units !== undefined && !UNITS.includes(units)) {
    throw new UsageError(
      `--units: unknown pressure units "${units}"`,
      didYouMean(units, UNITS) || `units: ${UNITS.join(", ")}`,
    );
  }
  const warmup = durationFlag(f, "warmup", { min: 0, max: 86_400_000 });
  return {
    kind,
    pty: f.values.pty === true,
    unitLetters,
    listenGiven: f.values.listen !== undefined,
    hostname,
    port,
    count,
    seed: intFlag(f, "seed", 0) ?? 1,
    faults,
    units,
    fullScale: numberFlag(f, "full-scale"),
    setpoint: numberFlag(f, "pressure"),
    warmupS: warmup === undefined ? undefined : warmup / 1000,
    verbose: f.values.verbose === true,
  };
}

/** Where `runSim` writes and how it learns it should stop (tests pass their own). */
export interface SimIo {
  /** Data: one address per line. */
  stdout: TextSink;
  /** Log lines. */
  log: (line: string) => void;
  /** Aborts to stop the simulators; `exitCode()` is what to return then. */
  interrupts?: { signal: AbortSignal; exitCode(): number; dispose?(): void };
  /** Called once the simulators listen (tests use it to find the addresses). */
  onReady?: (addresses: string[]) => void;
  /**
   * Watches whether stdout's reader has gone, from when the addresses are written; its abort
   * stops the simulators with exit 0 (`labwire sim scpi | head -1`), as a closed pipe ends every
   * verb. Absent: only `interrupts` stop them.
   */
  watchReader?: () => { signal: AbortSignal; stop(): void };
}

/**
 * Refuses, before listening, more simulators than the descriptor limit lets one process serve
 * (a listening socket and one client connection each), after raising the soft limit to the
 * hard one: a clear usage error instead of "Too many open files" once clients connect.
 */
function checkDescriptors(count: number, what: string): void {
  const budget = fdBudget(count, 2);
  if (!budget || budget.enough) return;
  const { message, hint } = tooManyFds(
    count,
    what,
    "a listening socket and a client connection",
    2,
    budget,
  );
  throw new UsageError(message, hint);
}

/**
 * Runs `labwire sim` until interrupted or its stdout's reader leaves; resolves to the exit code
 * (0 on SIGTERM and a reader gone, 130 on SIGINT).
 */
export async function runSim(args: string[], io: SimIo): Promise<number> {
  const kinds = [...SIM_KINDS, ...(await instrumentNames())];
  const opts = parseSimArgs(args, kinds);
  checkDescriptors(opts.count, opts.kind === "baratron" ? "gauges" : "simulators");
  const interrupts = io.interrupts ?? listenForInterrupts();
  try {
    const sims = await startSimulators(opts, io.log);
    try {
      io.log(sims.started);
      io.stdout.write(sims.addresses.map((a) => `${a}\n`).join(""));
      io.onReady?.(sims.addresses);
      const gone = io.watchReader?.();
      const stop = gone ? AbortSignal.any([interrupts.signal, gone.signal]) : interrupts.signal;
      try {
        if (!stop.aborted) {
          await new Promise<void>((resolve) =>
            stop.addEventListener("abort", () => resolve(), { once: true })
          );
        }
      } finally {
        gone?.stop();
      }
    } finally {
      io.log(await sims.close());
    }
    // a reader that left is no interrupt: 0, unless Ctrl-C came first
    return interrupts.signal.aborted ? interrupts.exitCode() : 0;
  } finally {
    interrupts.dispose?.();
  }
}

const HELP = `labwire sim KIND [flags] — run simulated instruments on local ports

Starts faithful fakes of real instruments so you can try labwire (or any other client) without
hardware. Prints one address per simulated device on stdout, one per line; logs go to stderr.
Runs until Ctrl-C (exit 130) or SIGTERM (exit 0); a pipe whose reader leaves stops it too
(labwire sim scpi | head -1: the address, then exit 0), as it ends every verb. To keep it
serving in the background, give its stdout a file: labwire sim scpi > addresses.txt &

Kinds:
  baratron   MKS eBaratron capacitance manometer: a ToolWeb endpoint answering
             POST /ToolWeb/Cmd with <PollRequest> exactly as the real gauge does (content type
             ignored). Pressure drifts around a setpoint with noise, run hours count up, the
             warm-up wait counts down to 0 (LED "yellow, blinking", then "green"), and a gauge
             whose zero has drifted reports "e-Baratron Zeroing Recommended".
  NAME       any instrument definition (labwire instruments list): keysight-34461a,
             lakeshore-336, … — the simulator is built from the definition: it keeps state
             (a set changes later gets), answers *IDN? and the IEEE 488.2 common commands,
             keeps the SCPI error queue (-113,"Undefined header" for unknown commands),
             accepts long and short mnemonics in any case and ";" chaining, adds noise to
             measured values, and speaks Alicat unit letters and Pfeiffer's ACK/ENQ. It
             listens on the definition's port (5025, 7777, …) unless --listen says otherwise
             and prints tcp://HOST:PORT?instrument=NAME.
  MAP        a Modbus register map (omega-cn7500, watlow-ez-zone-pm, vacom-mg15, your
             own protocol = "modbus" definitions): Modbus TCP on a free port (or
             --listen), Modbus RTU on a pseudo-terminal with --pty. Stateful (writes
             change later reads; a process value approaches its set point), exception
             02 for an address no attribute covers, 03 for a value outside the map's
             limits, 0B (TCP) or silence (RTU) for a unit id it does not have. Faults:
             --error-rate answers exception 04. Prints modbus://HOST:PORT?instrument=NAME
             or modbus+rtu:///dev/pts/N?instrument=NAME.

Flags:
  -l, --listen HOST:PORT   first address (default ${BARATRON_SIM_LISTEN}); N devices use ports
                           PORT…PORT+N−1; port 0 picks any free ports. IPv6: [::1]:8081
  -n, --count N            number of devices (default 1; thousands are fine)
      --seed N             base seed: device i uses seed+i, so runs are repeatable (default 1)
      --units NAME         pressure units: ${UNITS.join(", ")} (default torr)
      --full-scale P       full-scale pressure (default: 10, 100 or 1000, by seed)
      --pressure P         pressure setpoint the gauge hovers around (default: by seed)
      --warmup DURATION    warm-up time left at start (default 2m; 0 = already warm)
  -v, --verbose            log every request on stderr (time, port, outcome)
      --unit A,B           instrument definitions with unit letters (Alicat): the units
                           sharing the line (default the definition's, A); for Modbus
                           maps, unit ids: --unit 1,2,3 (default the map's, 1)
      --pty                serve an instrument on a pseudo-terminal of its own instead of
                           TCP; prints serial:///dev/pts/N?instrument=NAME (a serial port to
                           any program: pyvisa's ASRL/dev/pts/N::INSTR, minicom, …)

Faults (the same as sim:// device options), applied to every device:
      --latency DURATION        answer after this delay, e.g. 20ms
      --jitter DURATION         plus a random delay up to this
      --timeout-rate F          fraction of polls never answered (the client times out)
      --error-rate F            fraction answered with HTTP 500
      --garbage-rate F          fraction answered with malformed XML
      --disconnect-rate F       chance per poll that the device drops off the network:
                                its port refuses connections …
      --disconnect-for DURATION … for this long (default 5s)

Examples:
  labwire sim keysight-34461a --listen 127.0.0.1:0
      a simulated DMM on a free port; then: labwire read "$(that address)"

  labwire sim alicat --pty --unit A,B
      two Alicat units sharing one pseudo-terminal (one address per unit)

  labwire sim omega-cn7500 --listen 127.0.0.1:1502
      a Modbus TCP temperature controller; then:
      labwire read 'modbus://127.0.0.1:1502?instrument=omega-cn7500'

  labwire sim omega-cn7500 --pty --unit 1,2,3
      three controllers on one RS-485 bus (a pseudo-terminal), Modbus RTU

  labwire sim baratron
      one gauge on 127.0.0.1:8081; then, in another terminal:
      labwire read baratron://127.0.0.1:8081 | jq .pressure

  labwire sim baratron --listen 127.0.0.1:9000 --count 10 --latency 20ms
      ten gauges on ports 9000–9009, each answering after 20 ms

  labwire sim baratron --listen 127.0.0.1:0 --count 1000 > gauges.txt
      a thousand gauges on free ports; their addresses are in gauges.txt

  labwire sim baratron --timeout-rate 0.05 --error-rate 0.05 --disconnect-rate 0.001
      a flaky gauge, to see how your setup copes

  curl -s -H 'Content-Type: text/xml' --data '<PollRequest><V Name="EVID_100"/></PollRequest>' \\
       http://127.0.0.1:8081/ToolWeb/Cmd
      talk to the simulator without labwire
`;

/** The `sim` verb. */
export const simCommand: Command = {
  name: "sim",
  summary: "run simulated instruments (e.g. MKS eBaratron gauges) on local ports",
  help: HELP,
  run: (args) =>
    runSim(args, {
      stdout: stdoutSink,
      log: (line) => console.error(line),
      watchReader: watchStdoutReader,
    }),
};
