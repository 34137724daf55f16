/**
 * A Lab is the set of named devices a verb works with, each behind its {@linkcode DeviceManager}.
 * Every verb (read, stream, monitor, serve, scan) opens one, so all I/O goes through the same
 * per-device queues.
 *
 * @module
 */
import type { DeviceConfig, LabConfig } from "../config/load.ts";
import type { Attr } from "../device/attr.ts";
import { NotFound, UsageError } from "../device/errors.ts";
import { openDevice } from "./open.ts";
import { didYouMean } from "../device/suggest.ts";
import { DeviceManager } from "./manager.ts";
import { findDriver, optionRulesLoaded } from "../device/registry.ts";
import { DeviceOwners } from "./owners.ts";
import { fdBudget, tooManyFds } from "../transport/fd_limit.ts";

/**
 * Devices {@linkcode Lab.attrLists} asks at once. Asked all together, 10,000 gauges were 10,000
 * connects and polls in one burst that took longer than their 1 s timeout (10,000 bare connects
 * alone took 1.8–3.4 s on the loaded 2-core machine): not one of them answered in time, and the
 * first ticks found connections still opening. A few hundred at a time keep each call about as
 * short as the device makes it, and the whole round no longer than the burst.
 */
export const OPENING_AT_ONCE = 256;
/**
 * How long a device being asked holds its place before the next one starts anyway, ms: long
 * enough that on a loaded machine, where each call takes longer, the round still goes at the
 * pace the calls end (at 100 ms, 10,000 gauges with ~0.2 core were let in faster than they were
 * answered and 8,000 of their first calls timed out), short enough that devices that do not
 * answer delay the others by at most half a default timeout per {@linkcode OPENING_AT_ONCE}.
 */
export const OPENING_HOLD_MS = 500;

/**
 * Raises the descriptor limit to its hard ceiling when the devices need more than the default,
 * and refuses (a usage error naming how many fit) a bench that cannot have a connection per
 * device, instead of "Too many open files" from the device that comes too many.
 */
function checkDescriptors(configs: readonly DeviceConfig[]): void {
  // Simulated devices live in the process and ca:// devices share a circuit per server: only
  // the devices with a connection of their own count (a read of 1,000 PVs loads no FFI for it).
  const wanted =
    configs.filter((c) => (findDriver(c.address.scheme).descriptors ?? "own") === "own").length;
  const budget = fdBudget(wanted, 1);
  if (!budget || budget.enough) return;
  const { message, hint } = tooManyFds(wanted, "devices", "a connection", 1, budget);
  throw new UsageError(message, hint);
}

/**
 * The devices that `configs`' derived devices read (transitively) and `configs` does not open:
 * `labwire read vacuum` opens the gauge that `vacuum.pressure_mbar` is computed from, without
 * listing it.
 */
function supportDevices(config: LabConfig, configs: readonly DeviceConfig[]): DeviceConfig[] {
  const out: DeviceConfig[] = [];
  const have = new Set(configs.map((c) => c.name));
  const visit = (cfg: DeviceConfig) => {
    for (const name of (cfg.options.uses as string[] | undefined) ?? []) {
      if (have.has(name)) continue;
      const dep = config.devices.find((d) => d.name === name);
      if (!dep) continue; // the derived device names it when it reads
      have.add(name);
      visit(dep);
      out.push(dep);
    }
  };
  for (const cfg of configs) if (cfg.address.scheme === "derived") visit(cfg);
  return out;
}

/** A device added to or removed from a running Lab (one of the two is set). */
export interface LabChange {
  /** The device just added (opened). */
  added?: DeviceManager;
  /** The device just removed (closing). */
  removed?: DeviceManager;
}

/** Named devices behind their managers. */
export class Lab {
  readonly #managers = new Map<string, DeviceManager>();
  readonly #listeners = new Set<(change: LabChange) => void>();
  /** Devices opened only because a derived device reads them: not listed, not found by name. */
  readonly #support = new Map<string, DeviceManager>();
  readonly #cleanups: (() => Promise<void> | void)[] = [];
  /** Who owns each device now (tasks that write, scans): the one rule of {@linkcode DeviceOwners}. */
  readonly owners = new DeviceOwners();

  /** Creates an empty lab for `config` (the config is kept for sessions and alarms). */
  constructor(readonly config: LabConfig) {}

  /** Opens every device of `configs` (default: all of the config's devices). */
  static async open(config: LabConfig, configs: DeviceConfig[] = config.devices): Promise<Lab> {
    // Each device's options are checked as it opens (./open.ts); a read of addresses registered
    // their families without the rules.
    await optionRulesLoaded();
    const support = supportDevices(config, configs);
    checkDescriptors([...support, ...configs]);
    const lab = new Lab(config);
    try {
      for (const cfg of support) lab.#support.set(cfg.name, await lab.#open(cfg));
      for (const cfg of configs) await lab.add(cfg);
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** Opens one device and adds it. */
  async add(cfg: DeviceConfig): Promise<DeviceManager> {
    if (this.#managers.has(cfg.name)) throw new UsageError(`device "${cfg.name}" is opened twice`);
    // a device opened only for a derived one becomes a device of the lab: one queue, one owner
    const support = this.#support.get(cfg.name);
    this.#support.delete(cfg.name);
    const m = support ?? await this.#open(cfg);
    // a second add of the same name may have finished while this one opened its device
    if (this.#managers.has(cfg.name)) {
      await m.close();
      throw new UsageError(`device "${cfg.name}" is opened twice`);
    }
    this.#managers.set(cfg.name, m);
    this.#listeners.forEach((fn) => fn({ added: m }));
    return m;
  }

  /**
   * Removes a device at run time: the listeners (sampler, recorder, event stream) let go of it
   * first, then it is closed (after the calls already queued on it).
   */
  async remove(name: string): Promise<void> {
    const m = this.get(name);
    this.#managers.delete(name);
    this.#listeners.forEach((fn) => fn({ removed: m }));
    await m.close();
  }

  /** Calls `fn` with every device added or removed from now on; returns an unsubscribe function. */
  onChange(fn: (change: LabChange) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /**
   * Wires every device with `wire`: the devices open now at once, those added later (POST
   * /api/devices, SIGHUP) when they come, so a configured device and one added at run time go
   * through the same path. What `wire` returns is called when that device is removed (not when
   * the wiring stops: shutting down is not removing). Returns a function that stops following.
   */
  eachDevice(wire: (m: DeviceManager) => (() => void) | void): () => void {
    const unwire = new Map<DeviceManager, () => void>();
    const follow = (m: DeviceManager) => {
      const off = wire(m);
      if (off) unwire.set(m, off);
    };
    const stop = this.onChange(({ added, removed }) => {
      if (removed) {
        const off = unwire.get(removed);
        unwire.delete(removed);
        off?.();
      }
      if (added) follow(added);
    });
    for (const m of this.#managers.values()) follow(m);
    return () => {
      stop();
      unwire.clear();
    };
  }

  async #open(cfg: DeviceConfig): Promise<DeviceManager> {
    const device = await openDevice(
      cfg,
      (name) => this.#managers.get(name) ?? this.#support.get(name),
    );
    return new DeviceManager(device, cfg);
  }

  /** Registers something to stop when the lab closes (e.g. an in-process simulator). */
  onClose(fn: () => Promise<void> | void): void {
    this.#cleanups.push(fn);
  }

  /** The managers in order. */
  get managers(): DeviceManager[] {
    return [...this.#managers.values()];
  }

  /** Device names in order. */
  get names(): string[] {
    return [...this.#managers.keys()];
  }

  /** Returns a device's manager, or undefined. */
  find(name: string): DeviceManager | undefined {
    return this.#managers.get(name);
  }

  /** Returns a device's manager or throws a usage error with a suggestion. */
  get(name: string): DeviceManager {
    const m = this.#managers.get(name);
    if (!m) {
      const names = this.names;
      throw new NotFound(
        `no device "${name}"; devices: ${names.join(", ")}`,
        didYouMean(name, names) || undefined,
      );
    }
    return m;
  }

  /**
   * Every device's attribute list; a device that does not answer within `timeout` ms (or fails)
   * gets an empty list. For most drivers this first call also opens the connection, so devices
   * are asked {@linkcode OPENING_AT_ONCE} at a time (see there); a device that has not answered
   * after {@linkcode OPENING_HOLD_MS} lets the next one start, so one hung device holds no one
   * back.
   */
  async attrLists(timeout?: number): Promise<Map<string, Attr[]>> {
    const managers = this.managers;
    const lists: Attr[][] = new Array(managers.length);
    let next = 0;
    let left = managers.length;
    await new Promise<void>((resolve) => {
      if (left === 0) return resolve();
      const startOne = () => {
        if (next >= managers.length) return;
        const i = next++;
        let moved = false;
        const moveOn = () => {
          if (moved) return;
          moved = true;
          clearTimeout(hold);
          startOne();
        };
        // setTimeout on purpose: its first use loads Node's timers (~16 ms, see
        // schedule/timer.ts), here while devices open rather than in the first tick of a driver
        // whose reads use it (a stream of sim:// gauges at 10 ms then missed its first deadlines).
        const hold = setTimeout(moveOn, OPENING_HOLD_MS);
        managers[i]!.attrs({ timeout }).catch(() => [] as Attr[]).then((list) => {
          lists[i] = list;
          moveOn();
          if (--left === 0) resolve();
        });
      };
      for (let k = 0; k < OPENING_AT_ONCE; k++) startOne();
    });
    return new Map(managers.map((m, i) => [m.name, lists[i]!]));
  }

  /** Closes every device, then runs the registered cleanups. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.managers, ...this.#support.values()].map((m) => m.close()));
    for (const fn of this.#cleanups.reverse()) await fn();
    this.#cleanups.length = 0;
  }
}
