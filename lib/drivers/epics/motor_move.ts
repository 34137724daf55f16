/**
 * When a motor-record move is over, from the record's done-moving flag (DMOV) as a CA monitor
 * reports it: sans-I/O, so the rule is tested on sequences of events rather than on an IOC.
 *
 * A move started by a write is in progress until DMOV has gone 0 and come back to 1 (ophyd's
 * `EpicsMotor` rule: a DMOV of 1 read just after the write may be the old state, before the record
 * processed the new target). A move that never takes DMOV to 0 (a target equal to the position,
 * a record that finishes within one processing) is over once the write has completed and DMOV has
 * stayed 1 for the guard time since. Without a move of ours, the motor moves while DMOV is 0 (a
 * move started by another client, `camonitor`'s view).
 *
 * @module
 */

/** The state of one motor's moves. */
export class MoveWatch {
  #done: boolean | undefined;
  #move: { wentBusy: boolean; settledAt?: number } | undefined;

  /** `guardMs`: how long DMOV may stay 1 after a completed write before the move counts as over. */
  constructor(readonly guardMs: number) {}

  /** The last DMOV the monitor reported (undefined before the first, or while disconnected). */
  get done(): boolean | undefined {
    return this.#done;
  }

  /** A monitor update of DMOV (`undefined` when the PV disconnected). */
  update(done: boolean | undefined): void {
    this.#done = done;
    if (!this.#move || done === undefined) return;
    if (!done) this.#move.wentBusy = true;
    else if (this.#move.wentBusy) this.#move = undefined;
  }

  /** A write of a new target was sent: a move of ours starts (a running one is retargeted). */
  started(): void {
    this.#move = { wentBusy: this.#done === false };
  }

  /**
   * Whether the motor is moving at `nowMs`; `writing` is true while the target's write has not
   * completed. Undefined when DMOV is unknown (the caller reads it instead).
   */
  moving(nowMs: number, writing: boolean): boolean | undefined {
    const move = this.#move;
    if (!move) return this.#done === undefined ? undefined : !this.#done;
    if (move.wentBusy || writing || this.#done !== true) {
      if (this.#done === undefined && !writing) return undefined;
      return true;
    }
    move.settledAt ??= nowMs;
    if (nowMs - move.settledAt < this.guardMs) return true;
    this.#move = undefined;
    return false;
  }

  /** Forgets a move of ours (the motor was told to stop, or the device closed). */
  clear(): void {
    this.#move = undefined;
  }
}
