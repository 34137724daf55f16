/**
 * The driver registry: one {@linkcode Driver} per URL scheme. Drivers are registered by
 * `lib/drivers/mod.ts` (a static list, so `deno compile` sees every driver).
 *
 * @module
 */
import type { Address } from "./address.ts";
import type { Attr, Values } from "./attr.ts";
import type { CallOptions, Device } from "./device.ts";
import { UsageError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/** What opening a device gets beside its address: its name, timeout and driver options. */
export interface OpenContext {
  /** The device's name (config key, or derived from the address). */
  name: string;
  /** Default per-call timeout in ms, from config or the address' `?timeout=`. */
  timeout?: number;
  /** The device's sampling interval, ms (how often it is read; drivers judge staleness by it). */
  interval?: number;
  /** Driver options from the config file's device table (beyond address/interval/timeout). */
  options: Record<string, unknown>;
  /**
   * The config file declaring the device: a relative file its options name (`token_file`) is
   * beside it (`besideConfig`); undefined outside a config (relative to the working folder).
   */
  configFile?: string;
  /**
   * The other devices of the lab by name (through their queues), for devices made of other
   * devices' attributes (`[derived.NAME]`); absent outside a lab.
   */
  peer?: (name: string) => PeerDevice | undefined;
}

/** What a device made of other devices may ask of them (a lab's DeviceManager is one). */
export interface PeerDevice {
  /** Its attributes. */
  attrs(opts?: CallOptions): Promise<Attr[]>;
  /** Reads attributes through its queue; `quiet` keeps the reading from its subscribers. */
  read(names?: readonly string[], opts?: CallOptions & { quiet?: boolean }): Promise<Values>;
}

/** What an option rule made of a value: the value as the driver takes it, or what was expected. */
export type Checked =
  | { ok: true; value: unknown }
  | { ok: false; message: string; hint?: string; path?: string[] };

/** Checks one option's value (TOML-typed from a file, always text from an address). */
export type OptionRule = (value: unknown) => Checked;

/** What a driver's options are: who takes them, and the rule of each. */
export interface DriverOptions {
  /** Who takes these options, for messages: `baratron://`, `sim://motor`. */
  owner: string;
  /** Every option and its rule, in the order messages list them. */
  rules: Record<string, OptionRule>;
  /**
   * What is wrong with the options taken together (one that needs another), once each passed its
   * rule, so a config file is refused when it loads rather than when the device opens.
   */
  together?: (values: Readonly<Record<string, unknown>>) => OptionsConflict | undefined;
}

/** Options that do not go together: the key to blame, and what to do. */
export interface OptionsConflict {
  /** The option that needs another. */
  key: string;
  /** What is wrong, worded for a person. */
  message: string;
  /** What to write instead. */
  hint?: string;
}

/** One device of a {@linkcode Driver.readMany} (a device config is one): no options. */
export interface BatchTarget {
  /** The device's name (errors carry it). */
  name: string;
  /** Its address (no `?key=` options). */
  address: Address;
  /** Its timeout, ms (the driver's default when absent). */
  timeout?: number;
}

/** An instrument family: knows its scheme and opens devices. */
export interface Driver {
  /** URL scheme, e.g. `baratron`. */
  scheme: string;
  /** One line for `--help`. */
  summary: string;
  /** An example address for `--help`. */
  example: string;
  /** Opens a device. Must not do blocking I/O the caller cannot abort; connection may be lazy. */
  open(address: Address, ctx: OpenContext): Promise<Device>;
  /** The name a device gets when addressed directly (no config), e.g. the host or PV name. */
  defaultName?(address: Address): string;
  /**
   * The options a device of this driver takes beyond address/interval/timeout (config keys and
   * address `?key=value`), so the config file is checked before anything opens; undefined when
   * the driver checks its own.
   */
  options?(target: string): DriverOptions | undefined;
  /**
   * Loads the rules `options` answers from, for a driver that keeps them out of its start (a
   * read of plain `ca://NAME` addresses checks no option); `options` throws until it resolves.
   * Whatever checks options awaits {@linkcode optionRulesLoaded} first.
   */
  loadOptions?(): Promise<void>;
  /**
   * What a device keeps open: `"own"` (the default) a connection of its own; `"shared"` one
   * connection per server, shared by every device on it (`ca://`: a thousand PVs of one IOC are
   * one circuit); `"none"` nothing (in-process simulators). Verbs count the `"own"` ones against
   * the descriptor limit.
   */
  descriptors?: "own" | "shared" | "none";
  /**
   * Reads the default reading of many devices of this driver at once (a one-shot verb's whole
   * work: `labwire read` of a thousand `ca://` PVs), sharing what a batch can share instead of
   * opening a device per target; resolves, in order, to each one's values or the error that
   * ended it; `timeout` (ms) overrides each target's. Absent when the driver has no such path
   * (its devices are then opened one by one).
   */
  readMany?(targets: readonly BatchTarget[], timeout?: number): Promise<(Values | Error)[]>;
}

/**
 * What the registry knows of a driver without loading it: its scheme, help text, options and
 * default name (all synchronous); {@linkcode lazyDriver} adds an `open` that loads the rest.
 */
export type DriverInfo = Omit<Driver, "open">;

/**
 * A driver whose module loads on its first `open`: a read of `sim://gauge` does not load the
 * EPICS, Modbus, message and HTTP code (~40 ms of CPU at every start when they were static).
 * `load` must be an `import()` of a string literal so `deno compile` bundles the module.
 */
export function lazyDriver(info: DriverInfo, load: () => Promise<Driver>): Driver {
  // Loaded once: an import() per open (a thousand for a read of a thousand PVs) costs a few us
  // each even with the module already there.
  let loaded: Promise<Driver> | undefined;
  // Once loaded, opens go straight to the driver: no extra async frame per device.
  let driver: Driver | undefined;
  return {
    ...info,
    open: (address, ctx) => {
      if (driver) return driver.open(address, ctx);
      loaded ??= load().then((d) => (driver = d), (err) => {
        loaded = undefined;
        throw err;
      });
      return loaded.then((d) => d.open(address, ctx));
    },
  };
}

const drivers = new Map<string, Driver>();

/** Adds a driver; a second driver for the same scheme replaces the first (tests use this). */
export function registerDriver(driver: Driver): void {
  drivers.set(driver.scheme, driver);
}

/**
 * Loads the option rules of every registered driver that keeps them apart
 * ({@linkcode Driver.loadOptions}): the asynchronous step before the synchronous checks of a
 * config file's device tables and of the addresses a Lab opens.
 */
export async function optionRulesLoaded(): Promise<void> {
  const loading: Promise<void>[] = [];
  for (const d of drivers.values()) if (d.loadOptions) loading.push(d.loadOptions());
  await Promise.all(loading);
}

/** Returns every registered driver, sorted by scheme. */
export function listDrivers(): Driver[] {
  // Schemes are ASCII: a code-unit order, not localeCompare, whose first call loads ICU's
  // collation data (~5-25 ms of CPU at the start of every read of an address).
  return [...drivers.values()].sort((a, b) =>
    a.scheme < b.scheme ? -1 : a.scheme > b.scheme ? 1 : 0
  );
}

/** Returns the driver of a scheme or throws a usage error listing the known schemes. */
export function findDriver(scheme: string): Driver {
  const d = drivers.get(scheme);
  if (!d) {
    const schemes = [...drivers.keys()];
    throw new UsageError(
      `no driver for "${scheme}://"; known: ${schemes.map((s) => `${s}://`).join(", ")}`,
      didYouMean(scheme, schemes) || undefined,
    );
  }
  return d;
}
