/**
 * The process-wide simulated world: motors keyed by id, shared by every `sim://` device in the
 * process, so `sim://det` counts at the position of `sim://motor` (or `sim://det?motor=m2` at
 * `sim://motor?id=m2`). Motor motion is a pure function of time: no timers run while a motor
 * moves.
 *
 * @module
 */

import { DEFAULT_MOTOR, type MotorSettings } from "./driver_info.ts";

// Defined beside the kinds' option help (which quotes them); kept importable from here.
export { DEFAULT_MOTOR, type MotorSettings };

/**
 * One simulated motor: a move runs at constant velocity from where the motor was to the target;
 * the readback is interpolated from the time.
 *
 * @example
 * ```ts
 * import { MotorState } from "./world.ts";
 * const m = new MotorState();
 * m.moveTo(5, 0); // at t = 0 ms, 10 units/s
 * m.readback(250); // 2.5
 * ```
 */
export class MotorState {
  /** Current settings; change velocity through {@linkcode MotorState.setVelocity}. */
  settings: MotorSettings;
  #from = 0;
  #to = 0;
  #t0 = 0;

  /** Creates a motor at position `start` (default 0). */
  constructor(settings: MotorSettings = DEFAULT_MOTOR, start = 0) {
    this.settings = { ...settings };
    this.#from = start;
    this.#to = start;
  }

  /** The setpoint: where the motor is going (or is). */
  get target(): number {
    return this.#to;
  }

  /** The actual position at time `tMs`. */
  readback(tMs: number): number {
    const distance = this.#to - this.#from;
    const travelled = (this.settings.velocity * Math.max(0, tMs - this.#t0)) / 1000;
    if (travelled >= Math.abs(distance)) return this.#to;
    return this.#from + Math.sign(distance) * travelled;
  }

  /** True while a move is in progress at time `tMs`. */
  moving(tMs: number): boolean {
    return this.readback(tMs) !== this.#to;
  }

  /** When the current move ends, in the same milliseconds as `tMs`. */
  arrival(): number {
    return this.#t0 + (Math.abs(this.#to - this.#from) / this.settings.velocity) * 1000;
  }

  /** Starts a move to `target` from wherever the motor is at `tMs`. */
  moveTo(target: number, tMs: number): void {
    const here = this.readback(tMs);
    // A move shorter than a microsecond is over before anyone can ask (zero-latency scans).
    const instant = (Math.abs(target - here) / this.settings.velocity) * 1000 < 0.001;
    this.#from = instant ? target : here;
    this.#to = target;
    this.#t0 = tMs;
  }

  /** Changes the speed; a move in progress continues from where it is at the new speed. */
  setVelocity(velocity: number, tMs: number): void {
    this.moveTo(this.#to, tMs);
    this.settings.velocity = velocity;
  }

  /** Stops a move where the motor is at `tMs`: the setpoint becomes the readback. */
  stop(tMs: number): void {
    const here = this.readback(tMs);
    this.#from = here;
    this.#to = here;
    this.#t0 = tMs;
  }
}

interface Entry {
  motor: MotorState;
  users: number;
}

/**
 * Motors by id, created on first use and forgotten when the last device using them closes (so a
 * fresh `sim://motor` starts at 0 again).
 */
export class SimWorld {
  readonly #motors = new Map<string, Entry>();

  /** Returns the motor `id`, creating it with default settings if needed; pair with `release`. */
  acquireMotor(id: string): MotorState {
    let e = this.#motors.get(id);
    if (!e) {
      e = { motor: new MotorState(), users: 0 };
      this.#motors.set(id, e);
    }
    e.users++;
    return e.motor;
  }

  /** Drops one user of motor `id`; the motor is forgotten when nobody uses it. */
  releaseMotor(id: string): void {
    const e = this.#motors.get(id);
    if (!e) return;
    if (--e.users <= 0) this.#motors.delete(id);
  }

  /** The ids of the motors that exist now. */
  motorIds(): string[] {
    return [...this.#motors.keys()];
  }
}

/** The one world of this process. */
export const world: SimWorld = new SimWorld();
