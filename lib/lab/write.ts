/**
 * Setting attributes of one device as `labwire write` does: every assignment is checked against
 * its attribute (read-only, type, limits, enum options, actions) before the first one is sent,
 * then each is written in order through the device's queue; on request it waits until a
 * positioner stops. The read-back is a {@linkcode Reading}, the one shape `read`, `stream`, the
 * API and its events print.
 *
 * @module
 */
import { findAttr, parseValue, validateWrite, type Value } from "../device/attr.ts";
import { formatMs, nowSeconds, type Reading } from "../device/device.ts";
import { DeviceError, TimeoutError, UsageError } from "../device/errors.ts";
import { sleep } from "../schedule/periodic.ts";
import type { DeviceManager } from "./manager.ts";

/** One assignment: an attribute and its value as typed; `bare` for a name alone (an action). */
export interface Assignment {
  /** Attribute name. */
  attr: string;
  /** The value as text, parsed by the attribute's type. */
  text: string;
  /** Given as a name alone: allowed only for an action (`tare_flow`, `reset`). */
  bare?: boolean;
}

/** Options of {@linkcode writeAssignments}. */
export interface AssignOptions {
  /** Per-call timeout, ms; with `wait`, also how long the move may take (default 60 s). */
  timeout?: number;
  /** Wait until the device stops moving, then read its whole default reading back. */
  wait?: boolean;
  /** Cancels the writes and the wait. */
  signal?: AbortSignal;
}

/** How often `wait` asks a positioner whether it still moves, ms. */
const MOVING_POLL_MS = 20;

/**
 * Validates every assignment, writes them in order and returns the read-back as a reading (the
 * written attributes; after a wait, the device's default reading as well). A refused value is a
 * usage error before anything is sent; a move still running at the timeout a {@linkcode TimeoutError}.
 *
 * @example
 * ```ts ignore
 * const r = await writeAssignments(lab.get("motor"), [{ attr: "position", text: "2.5" }], { wait: true });
 * // { t: 1796123953.428, device: "motor", values: { position: 2.5, readback: 2.5, moving: false } }
 * ```
 */
export async function writeAssignments(
  m: DeviceManager,
  assignments: readonly Assignment[],
  opts: AssignOptions = {},
): Promise<Reading> {
  const call = { timeout: opts.timeout, signal: opts.signal };
  const attrs = await m.attrs(call);
  const values: [string, Value][] = assignments.map(({ attr, text, bare }) => {
    const a = findAttr(attrs, attr, m.name);
    if (bare && !(a.type === "boolean" && a.description?.startsWith("action:"))) {
      throw new UsageError(
        `"${attr}" is not ATTR=VALUE`,
        "e.g. position=2.5; a name alone runs an action (see labwire read TARGET --describe)",
      );
    }
    return [attr, validateWrite(a, parseValue(a, text))];
  });
  const readBack: Record<string, Value> = {};
  // Without --wait nobody waits for completion: an EPICS put goes out as caput's, not tracked.
  const writeCall = opts.wait ? call : { ...call, sendOnly: true };
  for (const [name, value] of values) readBack[name] = await m.write(name, value, writeCall);
  if (!opts.wait || !m.device.isMoving) {
    return { t: nowSeconds(), device: m.name, values: readBack };
  }
  await waitStopped(m, opts.timeout ?? 60_000, call);
  // After a move the whole default reading matters (readback, moving), not only the setpoint.
  const r = await m.sample(undefined, call);
  if (r.error !== undefined) throw new DeviceError(r.error, m.name);
  return { t: r.t, device: m.name, values: { ...readBack, ...r.values } };
}

/** Polls a device's `isMoving` (through its queue) until it says no, for at most `ms`. */
async function waitStopped(
  m: DeviceManager,
  ms: number,
  call: { timeout?: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = performance.now() + ms;
  while (await m.exclusive(() => m.device.isMoving!(call), call.signal)) {
    if (performance.now() > deadline) {
      throw new TimeoutError(
        `still moving after ${formatMs(ms)}; allow the move more time with --timeout`,
        m.name,
      );
    }
    await sleep(MOVING_POLL_MS, call.signal);
    call.signal?.throwIfAborted();
  }
}
