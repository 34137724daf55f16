/**
 * The positioners of a scan: resolved against their attributes (writable numbers, with a
 * tolerance and a read-back), triggers and limits checked before anything moves, and a move that
 * waits until the read-back is at the target. Detectors are in `detectors.ts`.
 *
 * @module
 */
import { type Attr, findAttr, validateWrite, type Value } from "../device/attr.ts";
import { formatMs } from "../device/device.ts";
import { errorMessage, TimeoutError, UsageError } from "../device/errors.ts";
import type { Lab } from "../lab/lab.ts";
import type { DeviceManager } from "../lab/manager.ts";
import { fairTurn } from "../schedule/fair.ts";
import { sleep } from "../schedule/periodic.ts";
import { absolute, parseRef, type Plan } from "./plan.ts";
import type { ScanRequest } from "./request.ts";

/** What resolving a scan's devices reads, and the units and precision it fills in. */
export interface ScanDevices {
  /** The lab the devices are in. */
  lab: Lab;
  /** The scan. */
  request: ScanRequest;
  /** Its points. */
  plan: Plan;
  /** Filled: units keyed by `device.attr`. */
  units: Record<string, string>;
  /** Filled: precision keyed by `device.attr`. */
  precision: Record<string, number>;
}

/** A positioner resolved against its device. */
export interface Positioner {
  ref: string;
  manager: DeviceManager;
  attr: Attr;
  /** The attribute holding the actual position (the positioner itself unless it has one). */
  readback: string;
  /** The manager of the device holding the read-back. */
  readbackManager: DeviceManager;
  tolerance: number;
  checkTolerance: boolean;
}

/** Where a positioner's actual position is found when it has a separate read-back attribute. */
const OWN_READBACK_NAMES = [(a: string) => `${a}_readback`, (a: string) => `${a}_rbv`];

/**
 * The device-wide read-back names. They belong to the device's main setpoint only (its first
 * writable number, a motor's `position`): another writable attribute of the same device, such as
 * `motor.velocity`, reads back as itself, never as the motor's position.
 */
const DEVICE_READBACK_NAMES = ["readback", "rbv"];

/** The attribute holding `name`'s actual position among `attrs` (`name` itself when none does). */
export function defaultReadback(attrs: readonly Attr[], name: string): string {
  const numeric = (n: string) =>
    attrs.some((a) => a.name === n && (a.type === "number" || a.type === "integer"));
  const own = OWN_READBACK_NAMES.map((f) => f(name)).find(numeric);
  if (own) return own;
  const main = attrs.find((a) => a.rw && (a.type === "number" || a.type === "integer"));
  if (main?.name !== name) return name;
  return DEVICE_READBACK_NAMES.find(numeric) ?? name;
}

/** Writes a target and waits until the positioner is there; returns its read-back. */
export async function moveTo(
  p: Positioner,
  target: number,
  request: ScanRequest,
  signal: AbortSignal,
): Promise<Value> {
  const opts = { signal, quiet: true };
  const wrote = await p.manager.write(p.attr.name, target, opts);
  const device = p.manager.device;
  const timeout = request.moveTimeoutMs ?? 60_000;
  const poll = request.pollMs ?? 10;
  let deadline = 0;
  // short moves end soon: poll after 1 ms, then back off to the poll period
  let wait = Math.min(1, poll);
  const pause = async () => {
    if (deadline === 0) deadline = performance.now() + timeout;
    if (performance.now() > deadline) return false;
    await sleep(wait, signal);
    signal.throwIfAborted();
    wait = Math.min(wait * 2, poll);
    return true;
  };
  const readBack = async () =>
    (await p.readbackManager.read([p.readback], opts))[p.readback] ?? null;
  let back: Value;
  if (device.isMoving) {
    const isMoving = () => device.isMoving!(opts);
    while (await p.manager.exclusive(isMoving, signal)) {
      if (!await pause()) throw moveTimeout(p, target, timeout, "is still moving");
    }
    back = await readBack();
    if (!p.checkTolerance) return back;
  } else {
    back = p.readback === p.attr.name && p.readbackManager === p.manager ? wrote : await readBack();
  }
  while (!(typeof back === "number" && Math.abs(back - target) <= p.tolerance)) {
    if (!await pause()) {
      throw moveTimeout(p, target, timeout, `reads back ${JSON.stringify(back)}`);
    }
    back = await readBack();
  }
  return back;
}

/** After an abort: positioners that can stop (a writable boolean `stop`, like sim and EPICS motors) are told to. */
export async function halt(
  positioners: Positioner[],
  warn: (message: string) => void,
): Promise<void> {
  await Promise.all(positioners.map(async (p) => {
    const stop = (await p.manager.attrs()).find((a) =>
      a.name === "stop" && a.rw && a.type === "boolean"
    );
    if (!stop) return;
    try {
      await p.manager.write("stop", true, { timeout: 2000 });
      warn(`stopped ${p.manager.name} where it was`);
    } catch (err) {
      warn(`could not stop ${p.manager.name}: ${errorMessage(err)}`);
    }
  }));
}

function moveTimeout(p: Positioner, target: number, ms: number, what: string): TimeoutError {
  return new TimeoutError(
    `${p.ref} did not reach ${target} within ${
      formatMs(ms)
    } (it ${what}, tolerance ${p.tolerance}); ` +
      "check the device, or raise --move-timeout / --tolerance",
    p.manager.name,
  );
}

/** Resolves the plan's positioners: writable numbers, with tolerance and read-back; fills units and precision. */
export async function resolvePositioners(scan: ScanDevices): Promise<Positioner[]> {
  const { lab, request, plan, units, precision } = scan;
  return await Promise.all(plan.positioners.map(async (ref) => {
    const { device, attr: name } = parseRef(ref);
    const manager = lab.get(device);
    const attr = findAttr(await manager.attrs(), name, device);
    if (!attr.rw) {
      const rw = (await manager.attrs()).filter((a) => a.rw).map((a) => a.name);
      throw new UsageError(
        `${ref} is read-only, so it cannot be scanned`,
        rw.length ? `writable attributes of ${device}: ${rw.join(", ")}` : undefined,
      );
    }
    if (attr.type !== "number" && attr.type !== "integer") {
      throw new UsageError(`${ref} is ${attr.type}; a positioner must be a number`);
    }
    if (attr.units) units[ref] = attr.units;
    if (attr.precision !== undefined) precision[ref] = attr.precision;
    const given = request.tolerance;
    const tolerance = given ??
      (attr.type === "integer"
        ? 0
        : attr.precision !== undefined
        ? Math.pow(10, -attr.precision)
        : 1e-6);
    const attrs = await manager.attrs();
    const explicit = request.readbacks?.[ref];
    let readback = name;
    let readbackManager = manager;
    if (explicit !== undefined && explicit.includes(".")) {
      const r = parseRef(explicit);
      readbackManager = lab.get(r.device);
      readback = findAttr(await readbackManager.attrs(), r.attr, r.device).name;
    } else if (explicit !== undefined) readback = findAttr(attrs, explicit, device).name;
    else readback = defaultReadback(attrs, name);
    return {
      ref,
      manager,
      attr,
      readback,
      readbackManager,
      tolerance,
      checkTolerance: given !== undefined,
    };
  }));
}

/** Checks that every trigger is a writable boolean (an action) before anything moves. */
export async function checkTriggers(lab: Lab, request: ScanRequest): Promise<void> {
  for (const ref of request.triggers ?? []) {
    const { device, attr: name } = parseRef(ref);
    const attr = findAttr(await lab.get(device).attrs(), name, device);
    if (attr.type !== "boolean" || !attr.rw) {
      throw new UsageError(
        `trigger ${ref} is not an action (a writable boolean such as dmm.trigger)`,
      );
    }
  }
}

/** Validates every remaining target against its attribute before anything moves. */
export async function checkLimits(
  plan: Plan,
  origin: readonly number[],
  positioners: Positioner[],
  todo: Iterable<number>,
  signal: AbortSignal,
): Promise<void> {
  if (positioners.length === 0) return;
  for (const i of todo) {
    if ((i & 1023) === 0) {
      await fairTurn();
      signal.throwIfAborted();
    }
    const targets = absolute(plan, i, origin);
    for (let k = 0; k < positioners.length; k++) {
      const p = positioners[k]!;
      const v = targets[k]!;
      const a = p.attr;
      if (
        (a.min !== undefined && v < a.min) || (a.max !== undefined && v > a.max) ||
        (a.type === "integer" && !Number.isInteger(v))
      ) {
        try {
          validateWrite(a, v);
        } catch (err) {
          const limits = `limits ${a.min ?? "-∞"} … ${a.max ?? "∞"}${a.units ? ` ${a.units}` : ""}`;
          throw new UsageError(
            `point ${i} of ${plan.length}: ${p.ref}: ${
              errorMessage(err).replace(`${a.name}: `, "")
            } (${limits}); nothing was moved`,
            plan.relative
              ? `relative to the start position ${origin[k]}`
              : "change the range to fit the limits",
            { cause: err },
          );
        }
      }
    }
  }
}
