/**
 * Safe states, after tomato's `dev_teardown`/`dev_reset`: a device's `safe_state` in the config
 * (attribute = value, written in the order declared) is put on the device when whoever drove it
 * stops — a task that wrote ends or is stopped, a scan is interrupted, the daemon stops — within
 * `safe_state_timeout` (default {@linkcode DEFAULT_SAFE_STATE_TIMEOUT_MS}), whatever else waits in
 * the device's queue. The result (what was written, or why it failed) is handed back so the caller
 * records it as a session event.
 *
 * @module
 */
import type { Value } from "../device/attr.ts";
import { formatMs } from "../device/device.ts";
import { errorMessage } from "../device/errors.ts";
import type { DeviceManager } from "./manager.ts";

/** Time a safe state may take when the config sets none, ms. */
export const DEFAULT_SAFE_STATE_TIMEOUT_MS = 2000;

/** What applying a device's safe state did. */
export interface SafeStateResult {
  /** Device name. */
  device: string;
  /** Why it was applied (`task t3 stopped`, `scan s1 aborted`, `server stopping`). */
  reason: string;
  /** True when every attribute was written. */
  ok: boolean;
  /** The read-back of each attribute written, in order. */
  values: Record<string, Value>;
  /** Why it failed (an attribute refused it, the device failed, or the timeout). */
  error: string | null;
  /** Time it took, ms. */
  duration_ms: number;
}

/**
 * Writes `m`'s configured safe state, in the declared order, within its timeout; answers what it
 * did, or undefined when the device has none. Never throws: a failure is in the result.
 *
 * @example
 * ```ts ignore
 * const r = await applySafeState(lab.get("heater"), "task t3 stopped");
 * if (r && !r.ok) console.error(r.error);
 * ```
 */
export async function applySafeState(
  m: DeviceManager,
  reason: string,
): Promise<SafeStateResult | undefined> {
  const state = m.config.safeState;
  if (!state || state.length === 0) return undefined;
  const timeout = m.config.safeStateTimeout ?? DEFAULT_SAFE_STATE_TIMEOUT_MS;
  const started = performance.now();
  const values: Record<string, Value> = {};
  const signal = AbortSignal.timeout(timeout);
  let error: string | null = null;
  try {
    for (const [attr, value] of state) {
      const write = m.write(attr, value, { signal, timeout });
      // the timeout answers even when an earlier caller holds the device's queue
      values[attr] = await Promise.race([
        write,
        new Promise<never>((_, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        }),
      ]);
    }
  } catch (err) {
    error = signal.aborted
      ? `not done within ${formatMs(timeout)} (safe_state_timeout)`
      : `${errorMessage(err)}`;
  }
  return {
    device: m.name,
    reason,
    ok: error === null,
    values,
    error,
    duration_ms: Math.round((performance.now() - started) * 10) / 10,
  };
}

/** The one line a safe-state event says. */
export function safeStateMessage(r: SafeStateResult): string {
  const what = Object.entries(r.values).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(" ");
  return r.ok
    ? `safe state of ${r.device} applied (${r.reason}): ${what}`
    : `safe state of ${r.device} failed (${r.reason}): ${r.error}${
      what ? `; written: ${what}` : ""
    }`;
}
