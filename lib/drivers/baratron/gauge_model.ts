/**
 * The physics of one simulated eBaratron — pressure wandering around a setpoint with noise, run
 * hours counting up, a warm-up wait counting down, status bits and an LED colour consistent
 * with that state — and the raw EVID texts of its samples as the device sends them.
 *
 * @module
 */
import { UsageError } from "../../device/errors.ts";
import { Random } from "../sim/random.ts";
import { encodeFields, type GaugeValues } from "./protocol.ts";
import { ledColor, STATUS_BITS, systemStatus, UNITS, unitsIndex } from "./fields.ts";

/** Settings of a gauge's physics (all optional; defaults are seeded and realistic). */
export interface GaugeModelOptions {
  /** Seed of the gauge's values and faults. */
  seed?: number;
  /** Pressure units name from the units table (default "torr"). */
  units?: string;
  /** Full-scale pressure in `units` (default: seeded among 10, 100, 1000). */
  fullScale?: number;
  /** Pressure the gauge hovers around (default: a seeded 0.1–60 % of full scale). */
  setpoint?: number;
  /** Warm-up time remaining at start, seconds (default 120; 0 = already warm). */
  warmupS?: number;
  /** Run time at start, seconds (default: a seeded 1–10 years of operation). */
  runSeconds?: number;
}

const SECONDS_PER_YEAR = 365.25 * 24 * 3600;
/** Drift beyond which the gauge recommends zeroing (the facts' example shows 0.00164 set). */
const ZEROING_DRIFT = 0.0015;
/** Status bits that turn the LED red (hardware faults rather than advice). */
const FAULT_BITS = [1, 2, 3, 4, 11, 26, 29];
const BIT = Object.fromEntries(STATUS_BITS.map(([b, n]) => [n, b]));

/** The physics of one gauge: values as a function of elapsed time, advanced lazily. */
export class GaugeModel {
  readonly units: string;
  readonly fullScale: number;
  readonly setpoint: number;
  readonly warmupS: number;
  readonly runStartS: number;
  #random: Random;
  #t0: number;
  #last: number;
  #walk = 0;
  #drift: number;
  #driftRate: number;
  /** The LED bitmask of the latest sample (EVID 106 as sent). */
  ledMask = 0;
  /** The status bitmask of the latest sample (EVID 208 as sent). */
  statusMask = 0;

  /** Creates a gauge whose clock starts at `nowMs` (monotonic ms). */
  constructor(opts: GaugeModelOptions = {}, nowMs = performance.now()) {
    const r = this.#random = new Random(opts.seed ?? 1);
    this.units = opts.units ?? "torr";
    if (unitsIndex(this.units) === undefined) {
      throw new UsageError(
        `unknown pressure units "${this.units}"`,
        `use one of: ${UNITS.join(", ")}`,
      );
    }
    this.fullScale = opts.fullScale ?? [10, 100, 1000][Math.floor(r.next() * 3)]!;
    this.setpoint = opts.setpoint ?? this.fullScale * 10 ** r.uniform(-3, Math.log10(0.6));
    this.warmupS = opts.warmupS ?? 120;
    this.runStartS = opts.runSeconds ?? Math.round(r.uniform(1, 10) * SECONDS_PER_YEAR);
    this.#drift = r.uniform(0, 0.002);
    this.#driftRate = r.uniform(-2e-8, 5e-8);
    this.#t0 = this.#last = nowMs;
  }

  /** The gauge's values at `nowMs` (monotonic ms, not earlier than the previous call). */
  sample(nowMs = performance.now()): GaugeValues {
    const dt = Math.max(0, nowMs - this.#last) / 1000;
    this.#last = Math.max(this.#last, nowMs);
    const r = this.#random;
    // Ornstein–Uhlenbeck wander (±0.5 % of the setpoint, 30 s correlation) plus reading noise.
    const tau = 30;
    const a = Math.exp(-dt / tau);
    this.#walk = this.#walk * a + 0.005 * Math.sqrt(1 - a * a) * r.gauss();
    this.#drift += this.#driftRate * dt;
    const elapsed = (this.#last - this.#t0) / 1000;
    const wait = Math.max(0, this.warmupS - elapsed);
    // A cold sensor reads a little high, settling as it warms.
    const warmBias = this.warmupS > 0 ? 0.02 * (wait / this.warmupS) : 0;
    const noise = r.gauss(0, this.fullScale * 2e-6);
    const pressure = Math.max(0, this.setpoint * (1 + this.#walk + warmBias) + noise);
    // Status is decided on the drift as reported, so the two never disagree.
    const drift = round(this.#drift, 5);
    let status = 0;
    if (Math.abs(drift) > ZEROING_DRIFT) {
      status += 2 ** BIT["e-Baratron Zeroing Recommended"]!;
    }
    if (pressure > 1.1 * this.fullScale) status += 2 ** BIT["e-Baratron Over 110% of FS"]!;
    const fault = FAULT_BITS.some((b) => Math.floor(status / 2 ** b) % 2 === 1);
    const led = fault ? 1 : wait > 0 ? 4 + 16 : 2;
    this.ledMask = led;
    this.statusMask = status;
    return {
      pressure: round(pressure, 6),
      pressure_units: this.units,
      full_scale_pressure: this.fullScale,
      led_color: ledColor(led),
      run_hours: Math.round(this.runStartS + elapsed) / 3600,
      wait_hours: Math.round(wait) / 3600,
      drift,
      system_status: systemStatus(status),
    };
  }
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Raw EVID texts of a sample, including the optional early-client fields. */
export function rawFields(v: GaugeValues): Map<number, string> {
  const raw = encodeFields(v);
  // Hours were seconds on the wire; keep them whole seconds as the device does.
  raw.set(102, String(Math.round(v.run_hours * 3600)));
  raw.set(107, String(Math.round(v.wait_hours * 3600)));
  raw.set(101, String(v.pressure));
  raw.set(103, String(round(v.pressure / v.full_scale_pressure, 7)));
  raw.set(104, String(round(v.pressure / v.full_scale_pressure, 7)));
  return raw;
}

/** The raw text of one EVID of a sample, as `rawFields` gives it; undefined if not a field. */
export function fieldText(evid: number, v: GaugeValues, model: GaugeModel): string | undefined {
  switch (evid) {
    case 100:
    case 101:
      return String(v.pressure);
    case 102:
      return String(Math.round(v.run_hours * 3600));
    case 103:
    case 104:
      return String(round(v.pressure / v.full_scale_pressure, 7));
    case 105:
      return String(unitsIndex(v.pressure_units));
    case 106:
      return String(model.ledMask);
    case 107:
      return String(Math.round(v.wait_hours * 3600));
    case 114:
      return String(v.drift);
    case 208:
      return String(model.statusMask);
    case 1103:
      return String(v.full_scale_pressure);
  }
  return undefined;
}
