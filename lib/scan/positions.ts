/**
 * Saving and restoring named positions over a lab: `save` reads the attributes (which must be
 * writable, or they could not be restored) and stores their values in order; `restore` checks
 * every value against its attribute and every device against the ownership rule before the
 * first write, then writes them in the saved order, each waiting for the device's done signal
 * when asked (`--wait`). Groups of attributes can be named in the config:
 *
 * ```toml
 * [positions]
 * sample_stage = ["stage.x", "stage.y", "stage.theta"]
 * ```
 *
 * @module
 */
import { findAttr, validateWrite, type Value } from "../device/attr.ts";
import { DeviceError, TimeoutError, UsageError } from "../device/errors.ts";
import { didYouMean } from "../device/suggest.ts";
import type { LabConfig } from "../config/load.ts";
import type { Lab } from "../lab/lab.ts";
import { sleep } from "../schedule/periodic.ts";
import type { NamedPosition } from "../session/positions.ts";
import { parseRef } from "./plan.ts";
import { defaultReadback } from "./positioners.ts";

/** What a restore did for one attribute. */
export interface RestoredValue {
  /** `device.attr`. */
  ref: string;
  /** The saved value written. */
  value: Value;
  /** The read-back after the write; after a wait, its read-back attribute (a motor's `readback`). */
  read_back: Value;
}

/**
 * Where the value under way was when a restore was interrupted: its write sent and not yet
 * answered, its move being waited for (`--wait`), or its read-back being read after the move.
 */
export type RestorePhase = "write" | "move" | "read-back";

/** What an interruption in each phase says about the value under way. */
const UNDER_WAY: Record<RestorePhase, (ref: string) => string> = {
  write: (ref) => `${ref} was being written (the device may or may not have taken the value)`,
  move: (ref) => `${ref} not reached (its move was not stopped: it may still be moving)`,
  "read-back": (ref) => `${ref} written and its move ended, but its read-back was not read`,
};

/**
 * A restore stopped by its signal (Ctrl-C, SIGTERM): what was done, the value whose write or move
 * was under way (a move is not stopped: nothing is told to stop), and the values never written.
 * The message says what was under way by its phase: only a move may still be going on.
 */
export class RestoreInterrupted extends Error {
  /** Creates it; `cause` is the abort's reason. */
  constructor(
    readonly restored: RestoredValue[],
    readonly underWay: string,
    readonly notWritten: string[],
    readonly phase: RestorePhase,
    options?: ErrorOptions,
  ) {
    super(
      `interrupted: ${UNDER_WAY[phase](underWay)}${
        notWritten.length ? `; not written: ${notWritten.join(", ")}` : ""
      }`,
      options,
    );
    this.name = "RestoreInterrupted";
  }
}

/**
 * The attributes `words` names: `device.attr` words, or one group name from `[positions]` in the
 * config.
 *
 * @example
 * ```ts
 * import { positionRefs } from "./positions.ts";
 * positionRefs(["motor.position"], { devices: [], sections: {} }); // ["motor.position"]
 * ```
 */
export function positionRefs(words: readonly string[], config: LabConfig): string[] {
  const groups = (config.sections.positions ?? {}) as Record<string, unknown>;
  if (words.length === 1 && !words[0]!.includes(".")) {
    const g = groups[words[0]!];
    if (!Array.isArray(g)) {
      const names = Object.keys(groups);
      throw new UsageError(
        `"${words[0]}" is neither device.attr nor a group of [positions] in the config${
          names.length ? ` (groups: ${names.join(", ")})` : ""
        }`,
        didYouMean(words[0]!, names) || undefined,
      );
    }
    return g as string[];
  }
  if (words.length === 0) {
    throw new UsageError("which attributes? give DEV.ATTR… or a [positions] group", undefined, {
      subcommand: "save",
    });
  }
  for (const w of words) parseRef(w);
  if (new Set(words).size !== words.length) {
    throw new UsageError("an attribute is listed twice", undefined, { subcommand: "save" });
  }
  return [...words];
}

/** Reads `refs` (one read per device) into a position named `name`. */
export async function readPosition(
  lab: Lab,
  name: string,
  refs: readonly string[],
  signal?: AbortSignal,
): Promise<NamedPosition> {
  const byDevice = new Map<string, string[]>();
  for (const ref of refs) {
    const { device, attr } = parseRef(ref);
    const a = findAttr(await lab.get(device).attrs({ signal }), attr, device);
    if (!a.rw) throw new UsageError(`${ref} is read-only, so it cannot be restored`);
    let list = byDevice.get(device);
    if (!list) byDevice.set(device, list = []);
    list.push(attr);
  }
  const read = new Map(
    await Promise.all(
      [...byDevice].map(async ([d, attrs]) =>
        [d, await lab.get(d).read(attrs, { signal, quiet: true })] as const
      ),
    ),
  );
  const values = refs.map((ref): [string, Value] => {
    const { device, attr } = parseRef(ref);
    return [ref, read.get(device)![attr] ?? null];
  });
  return { name, saved: Date.now() / 1000, values };
}

/**
 * Restores `p` on `lab`: every value validated and every device free (the ownership rule) before
 * the first write; then written in order, each waiting until its device is done when `wait`.
 */
export async function restorePosition(
  lab: Lab,
  p: NamedPosition,
  opts: { wait?: boolean; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<RestoredValue[]> {
  for (const [ref, value] of p.values) {
    const { device, attr } = parseRef(ref);
    const m = lab.get(device);
    const a = findAttr(await m.attrs({ signal: opts.signal }), attr, device);
    if (value === null) throw new UsageError(`${p.name}: ${ref} was saved without a value`);
    try {
      validateWrite(a, value);
    } catch (err) {
      throw new UsageError(
        `${p.name}: ${ref} = ${JSON.stringify(value)}: ${(err as Error).message}`,
      );
    }
    lab.owners.check(device);
  }
  const out: RestoredValue[] = [];
  const at: { phase: RestorePhase } = { phase: "write" };
  for (const [i, [ref, value]] of p.values.entries()) {
    try {
      out.push(await restoreOne(lab, ref, value, opts, at));
    } catch (err) {
      const rest = p.values.slice(i + 1).map(([r]) => r);
      if (!opts.signal?.aborted) throw restoreFailed(err, out, ref, rest);
      throw new RestoreInterrupted(out, ref, rest, at.phase, { cause: err });
    }
  }
  return out;
}

/**
 * A device's failure during a restore, saying what the restore had done: the values restored
 * before it, the one that failed and those never written. It said only the device's error, and
 * the user could not tell which values were back. Other errors (a conflict with a scan's owner)
 * keep their class and message.
 */
function restoreFailed(
  err: unknown,
  restored: readonly RestoredValue[],
  ref: string,
  notWritten: readonly string[],
): unknown {
  const what = `${ref} not restored (${
    restored.length
      ? `restored before it: ${restored.map((r) => r.ref).join(", ")}`
      : "nothing restored"
  }${notWritten.length ? `; not written: ${notWritten.join(", ")}` : ""})`;
  if (!(err instanceof DeviceError)) return err;
  const message = `${err.message}; ${what}`;
  const { device } = err;
  const kind: unknown = err.constructor;
  if (kind === TimeoutError) return new TimeoutError(message, device, { cause: err });
  if (kind === DeviceError) return new DeviceError(message, device, { cause: err });
  return err;
}

/**
 * Writes one saved value and, with `wait`, waits until its device is done; `at.phase` follows
 * where it is, for what an interruption says.
 */
async function restoreOne(
  lab: Lab,
  ref: string,
  value: Value,
  opts: { wait?: boolean; timeoutMs?: number; signal?: AbortSignal },
  at: { phase: RestorePhase },
): Promise<RestoredValue> {
  const { device, attr } = parseRef(ref);
  const m = lab.get(device);
  at.phase = "write";
  let back = await m.write(attr, value, { signal: opts.signal });
  if (opts.wait && m.device.isMoving) {
    at.phase = "move";
    const deadline = performance.now() + (opts.timeoutMs ?? 60_000);
    let wait = 1;
    while (await m.exclusive(() => m.device.isMoving!({ signal: opts.signal }), opts.signal)) {
      if (performance.now() > deadline) {
        throw new TimeoutError(
          `${ref} still moving ${opts.timeoutMs ?? 60_000} ms after it was written`,
          device,
        );
      }
      await sleep(wait, opts.signal);
      wait = Math.min(wait * 2, 20);
    }
    // Where it arrived, as a scan records it: a motor's readback rather than its setpoint.
    at.phase = "read-back";
    const readback = defaultReadback(await m.attrs({ signal: opts.signal }), attr);
    back = (await m.read([readback], { signal: opts.signal }))[readback] ?? null;
  }
  return { ref, value, read_back: back };
}
