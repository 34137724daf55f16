/**
 * Starting the simulators `labwire sim` serves: `count` MKS eBaratron gauges (ToolWeb HTTP), or
 * simulators of an instrument definition (message family over TCP or a pseudo-terminal; Modbus
 * TCP or RTU). One function for every kind, so the command only parses flags and prints, and
 * what was started, where, and what it answered are told the same way for each.
 *
 * @module
 */
import { formatMs } from "../device/device.ts";
import { UsageError } from "../device/errors.ts";
import { startBaratronSimulators } from "./baratron/simulator.ts";
import type { FaultOptions } from "./sim/faults.ts";
import {
  type MessageEvent,
  type PtySimulator,
  startPtySimulator,
  startTcpSimulator,
  type TcpSimulator,
} from "./message/simulator.ts";
import {
  type ModbusEvent,
  type ModbusPtySimulator,
  type ModbusSimOptions,
  type ModbusTcpSimulator,
  startModbusPtySimulator,
  startModbusTcpSimulator,
} from "./modbus/simulator.ts";
import { findInstrument } from "../instruments/loader.ts";
import type { Instrument } from "../instruments/definition.ts";
import { clockTime } from "../output/time.ts";

/** Where `labwire sim baratron` listens by default (the port the README's examples use). */
export const BARATRON_SIM_LISTEN = "127.0.0.1:8081";

/** What to simulate and how: the parsed options of `labwire sim`. */
export interface SimRunOptions {
  /** Simulator kind: "baratron" or an instrument definition's name. */
  kind: string;
  /** Serve on a pseudo-terminal instead of TCP (instrument definitions only). */
  pty: boolean;
  /** Unit letters (Alicat) or unit ids (Modbus) sharing the line, default the definition's. */
  unitLetters?: string[];
  /** True when --listen was given (instruments otherwise use their definition's port). */
  listenGiven: boolean;
  /** Interface to listen on. */
  hostname: string;
  /** First port (0 = any free ports). */
  port: number;
  /** Number of simulated devices. */
  count: number;
  /** Base seed. */
  seed: number;
  /** Fault injection settings. */
  faults: FaultOptions;
  /** Pressure units of every gauge. */
  units?: string;
  /** Full-scale pressure. */
  fullScale?: number;
  /** Pressure setpoint. */
  setpoint?: number;
  /** Warm-up time at start, seconds. */
  warmupS?: number;
  /** Log every request (through `log`). */
  verbose: boolean;
}

/** Simulators serving until closed. */
export interface RunningSimulators {
  /** One address per simulated device (per unit on a shared line). */
  addresses: string[];
  /** One line saying what runs where, with its faults and seed. */
  started: string;
  /** Stops every simulator; resolves to one line saying what they answered. */
  close(): Promise<string>;
}

/**
 * Starts the simulators `opts` asks for; `log` gets one line per request with `verbose`. A
 * port in use or a unit the kind cannot have is a {@linkcode UsageError}; simulators already
 * started are stopped again (and what they answered is logged).
 *
 * @example
 * ```ts ignore
 * const sims = await startSimulators({ kind: "baratron", count: 2, port: 0, … }, console.error);
 * console.log(sims.addresses); // ["baratron://127.0.0.1:40001", "baratron://127.0.0.1:40002"]
 * console.error(await sims.close()); // "labwire sim: stopped; answered 0 polls"
 * ```
 */
export async function startSimulators(
  opts: SimRunOptions,
  log: (line: string) => void,
): Promise<RunningSimulators> {
  if (opts.kind === "baratron") return await startGauges(opts, log);
  const inst = await findInstrument(opts.kind);
  const letters = opts.unitLetters?.filter((u) => /^[A-Z]$/.test(u)) ?? [];
  if (inst.protocol === "modbus") {
    if (letters.length) {
      throw new UsageError(
        `--unit: ${inst.name} speaks Modbus: give unit ids 1…247, e.g. --unit 1,2`,
      );
    }
    return await startModbus(inst, opts, log);
  }
  if (letters.length !== (opts.unitLetters?.length ?? 0)) {
    throw new UsageError(`--unit: ${inst.name} takes unit letters A–Z (Alicat), not numbers`);
  }
  return await startMessage(inst, opts, log);
}

/** "no faults", or the faults applied, as the start line says them. */
export function describeFaults(f: FaultOptions): string {
  const parts: string[] = [];
  if (f.latencyMs > 0) parts.push(`latency ${formatMs(f.latencyMs)}`);
  if (f.jitterMs > 0) parts.push(`jitter ${formatMs(f.jitterMs)}`);
  if (f.timeoutRate > 0) parts.push(`timeout rate ${f.timeoutRate}`);
  if (f.errorRate > 0) parts.push(`error rate ${f.errorRate}`);
  if (f.garbageRate > 0) parts.push(`garbage rate ${f.garbageRate}`);
  if (f.disconnectRate > 0) {
    parts.push(`disconnect rate ${f.disconnectRate} for ${formatMs(f.disconnectForMs)}`);
  }
  return parts.length ? parts.join(", ") : "no faults";
}

/** The listen host as it stands before `:PORT` (IPv6 in brackets). */
function hostOf(opts: SimRunOptions): string {
  return opts.hostname.includes(":") ? `[${opts.hostname}]` : opts.hostname;
}

/** `HOST:PORT` or `HOST:FIRST…LAST` of TCP simulators. */
function portsText(host: string, ports: number[]): string {
  return `${host}:${ports.length === 1 ? ports[0] : `${ports[0]}…${ports.at(-1)}`}`;
}

/** Adds up each simulator's counts of what it answered. */
function totals<K extends string>(
  keys: readonly K[],
  counts: Iterable<Record<K, number>>,
): Record<K, number> {
  const total = Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  for (const c of counts) for (const k of keys) total[k] += c[k];
  return total;
}

/** What a simulator answered, by outcome: the fault counts every family keeps. */
type FaultCounts = Record<"ok" | "timeout" | "error" | "garbage" | "disconnected", number>;

/**
 * "labwire sim: stopped; answered …", with the faults injected when there were any; `bad` (what
 * was refused as malformed) is said after them and counts as a fault.
 */
function stoppedLine(
  answered: string,
  t: FaultCounts,
  bad?: { count: number; text: string },
): string {
  return `labwire sim: stopped; answered ${answered}` +
    (t.timeout + t.error + t.garbage + t.disconnected + (bad?.count ?? 0) > 0
      ? ` (faults: ${t.timeout} timeouts, ${t.error} errors, ${t.garbage} garbage, ` +
        `${t.disconnected} disconnects${bad ? `; ${bad.text}` : ""})`
      : "");
}

async function startGauges(
  opts: SimRunOptions,
  log: (line: string) => void,
): Promise<RunningSimulators> {
  const host = hostOf(opts);
  const sims = await startBaratronSimulators({
    hostname: opts.hostname,
    port: opts.port,
    count: opts.count,
    seed: opts.seed,
    faults: opts.faults,
    units: opts.units,
    fullScale: opts.fullScale,
    setpoint: opts.setpoint,
    warmupS: opts.warmupS,
    onWarning: (message) => log(`labwire sim: ${message}`),
    onRequest: opts.verbose
      ? (e) =>
        log(
          `${verboseStamp()} ${host}:${e.port} ${e.outcome}` +
            `${e.status ? ` ${e.status}` : ""}: ${e.detail}`,
        )
      : undefined,
  });
  const ports = sims.gauges.map((g) => g.port);
  const first = ports[0]!;
  const last = ports.at(-1)!;
  const contiguous = last - first === ports.length - 1;
  const started = `labwire sim: ${opts.count} baratron gauge${opts.count === 1 ? "" : "s"} on ` +
    (ports.length === 1
      ? `${host}:${first}`
      : contiguous
      ? `${host}:${first}–${last}`
      : `${host}, free ports listed on stdout`) +
    ` (${describeFaults(opts.faults)}, seed ${opts.seed}); POST /ToolWeb/Cmd; Ctrl-C to stop`;
  return {
    addresses: sims.addresses,
    started,
    close: async () => {
      await sims.close();
      const keys = ["ok", "timeout", "error", "garbage", "disconnected", "bad"] as const;
      const t = totals(keys, sims.gauges.map((g) => g.counts));
      return stoppedLine(`${t.ok} polls`, t, { count: t.bad, text: `${t.bad} bad requests` });
    },
  };
}

/** One simulator of an instrument definition, on TCP (`port`) or a pseudo-terminal (`path`). */
type InstrumentSim = { close(): Promise<void>; port?: number; path?: string };

/** What differs between the instrument families (message, Modbus) when `labwire sim` starts them. */
interface SimFamily<S extends InstrumentSim> {
  /** First TCP port when --listen was not given. */
  defaultPort: number;
  /** Starts simulator `i` with `seed`: on a new pseudo-terminal, or on TCP at `tcp`. */
  start(seed: number, tcp?: { hostname: string; port: number }): Promise<S>;
  /** The addresses of one simulator: one per unit sharing its line. */
  addresses(sim: S): string[];
  /** The protocol in the start line, e.g. "scpi" or "Modbus TCP, unit 1". */
  protocol(sims: S[]): string;
  /** The closing line: what the simulators answered. */
  stopped(sims: S[]): string;
}

/**
 * Starts `count` simulators of `inst` one after another, on consecutive TCP ports from --listen
 * (or the family's default) or on pseudo-terminals; if one fails, those started are closed again
 * and what they answered is logged before the error is thrown.
 */
async function startInstrumentSims<S extends InstrumentSim>(
  inst: Instrument,
  opts: SimRunOptions,
  log: (line: string) => void,
  family: SimFamily<S>,
): Promise<RunningSimulators> {
  const first = opts.listenGiven ? opts.port : family.defaultPort;
  const sims: S[] = [];
  try {
    for (let i = 0; i < opts.count; i++) {
      sims.push(
        await family.start(
          opts.seed + i,
          opts.pty ? undefined : { hostname: opts.hostname, port: first === 0 ? 0 : first + i },
        ),
      );
    }
  } catch (err) {
    for (const s of sims) await s.close();
    if (sims.length) log(family.stopped(sims));
    throw err;
  }
  const where = opts.pty
    ? sims.map((s) => s.path).join(", ")
    : portsText(hostOf(opts), sims.map((s) => s.port!));
  return {
    addresses: sims.flatMap((s) => family.addresses(s)),
    started: `labwire sim: ${opts.count} ${inst.name} on ${where} (${family.protocol(sims)}, ` +
      `${describeFaults(opts.faults)}, seed ${opts.seed}); Ctrl-C to stop`,
    close: async () => {
      for (const s of sims) await s.close();
      return family.stopped(sims);
    },
  };
}

/** The time stamp of a `--verbose` line. */
function verboseStamp(): string {
  return clockTime(Date.now() / 1000, { ms: true });
}

function startMessage(
  inst: Instrument,
  opts: SimRunOptions,
  log: (line: string) => void,
): Promise<RunningSimulators> {
  const keys = ["ok", "timeout", "error", "garbage", "disconnected"] as const;
  return startInstrumentSims<TcpSimulator | PtySimulator>(inst, opts, log, {
    defaultPort: inst.transport.port ?? 0,
    start: async (seed, tcp) => {
      const common = {
        seed,
        faults: opts.faults,
        units: opts.unitLetters,
        onMessage: opts.verbose
          ? (e: MessageEvent) =>
            log(
              `${verboseStamp()} ${e.outcome}: ${JSON.stringify(e.message)} → ` +
                JSON.stringify(e.answer),
            )
          : undefined,
      };
      return tcp
        ? await startTcpSimulator(inst, { ...common, ...tcp })
        : await startPtySimulator(inst, common);
    },
    addresses: (s) => {
      const units = opts.unitLetters ?? (inst.protocol === "alicat" ? [s.sim.models[0]!.unit] : []);
      return units.length ? units.map((u) => `${s.address}&unit=${u}`) : [s.address];
    },
    protocol: () => inst.protocol,
    stopped: (sims) => {
      const t = totals(keys, sims.map((s) => s.sim.counts));
      return stoppedLine(`${t.ok} messages`, t);
    },
  });
}

function startModbus(
  inst: Instrument,
  opts: SimRunOptions,
  log: (line: string) => void,
): Promise<RunningSimulators> {
  const units = opts.unitLetters?.map(Number);
  for (const u of units ?? []) {
    if (u < 1 || u > 247) throw new UsageError(`--unit: ${u} is not a unit id 1…247`);
  }
  const keys = [
    "ok",
    "timeout",
    "error",
    "garbage",
    "disconnected",
    "exceptions",
    "bad_frames",
  ] as const;
  return startInstrumentSims<ModbusTcpSimulator | ModbusPtySimulator>(inst, opts, log, {
    // A free port unless --listen says otherwise: 502 needs root.
    defaultPort: 0,
    start: async (seed, tcp) => {
      const common: ModbusSimOptions = {
        seed,
        faults: opts.faults,
        units,
        onRequest: opts.verbose
          ? (e: ModbusEvent) =>
            log(
              `${verboseStamp()} unit ${e.unit} ${e.outcome}: ` +
                `${e.request} → ${e.answer || "(no answer)"}`,
            )
          : undefined,
      };
      return tcp
        ? await startModbusTcpSimulator(inst, { ...common, ...tcp })
        : await startModbusPtySimulator(inst, common);
    },
    addresses: (s) => {
      const ids = [...s.sim.models.keys()];
      return ids.length > 1 || units ? ids.map((u) => `${s.address}&unit=${u}`) : [s.address];
    },
    protocol: (sims) =>
      `Modbus ${opts.pty ? "RTU" : "TCP"}, unit ${[...sims[0]!.sim.models.keys()].join(",")}`,
    stopped: (sims) => {
      const t = totals(keys, sims.map((s) => s.sim.counts));
      return stoppedLine(`${t.ok} requests (${t.exceptions} with exceptions)`, t, {
        count: t.bad_frames,
        text: `${t.bad_frames} bad frames received`,
      });
    },
  });
}
