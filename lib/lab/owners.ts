/**
 * One owner per device at a time, the rule tasks, scans and plain writes share: a running task
 * that writes (every technique but `sample`) owns its device, and a running scan owns its
 * positioners' devices. What comes second depends on what it is:
 *
 * - a task waits in its device's FIFO queue until the owner lets go (tasks never fail for a busy
 *   device);
 * - a scan, or a plain write, is refused at once with a {@linkcode Conflict} naming the owner
 *   (a scan is an interactive thing: it starts now or says why not).
 *
 * Reads and `sample` tasks never own: they go through the device's queue beside any owner.
 *
 * @module
 */
import { DeviceError } from "../device/errors.ts";

/** Who owns a device. */
export interface Owner {
  /** `task` or `scan`. */
  kind: "task" | "scan";
  /** The task or scan id (`t3`, `s1`). */
  id: string;
  /** What it does, for messages (`move`, `ascan`). */
  what?: string;
}

/** A device already owned by someone else. */
export class Conflict extends DeviceError {
  /** Creates the error for `device`, held by `owner`. */
  constructor(readonly owner: Owner, device: string, options?: ErrorOptions) {
    super(
      `${device} is owned by ${owner.kind} ${owner.id}${
        owner.what ? ` (${owner.what})` : ""
      } until it ends; stop ${owner.id} first, or submit a task, which waits its turn in the ` +
        "device's queue",
      device,
      options,
    );
    this.name = "Conflict";
  }
}

/** The owners of a lab's devices. */
export class DeviceOwners {
  readonly #held = new Map<string, Owner>();
  readonly #listeners = new Set<(device: string) => void>();

  /** The owner of `device`, or undefined when it is free. */
  holder(device: string): Owner | undefined {
    return this.#held.get(device);
  }

  /** Throws a {@linkcode Conflict} when another owner than `owner` holds `device`. */
  check(device: string, owner?: Owner): void {
    const h = this.#held.get(device);
    if (h && !(owner && h.kind === owner.kind && h.id === owner.id)) throw new Conflict(h, device);
  }

  /** Takes every one of `devices` for `owner`, or none (a {@linkcode Conflict} for the first held). */
  claim(devices: Iterable<string>, owner: Owner): void {
    const list = [...devices];
    for (const d of list) this.check(d, owner);
    for (const d of list) this.#held.set(d, owner);
  }

  /** Lets go of every device `owner` holds; whoever waits for one of them is told. */
  release(owner: Owner): void {
    const freed: string[] = [];
    for (const [d, h] of this.#held) {
      if (h.kind === owner.kind && h.id === owner.id) freed.push(d);
    }
    for (const d of freed) this.#held.delete(d);
    for (const d of freed) this.#listeners.forEach((fn) => fn(d));
  }

  /** Calls `fn` with each device let go; returns a function that removes the listener. */
  onRelease(fn: (device: string) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}
