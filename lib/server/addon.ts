/**
 * Add-ons of `labwire serve`: servers that run beside the HTTP API on the same Lab (the EPICS
 * Channel Access server of `serve --ca` is one). An add-on declares its flags and starts when one
 * of them is given (or its config section asks for it); `serve` stops it on shutdown before the devices close. Register add-ons at
 * import time (a static import from `main.ts`), so `deno compile` carries them.
 *
 * @module
 */
import type { FlagSpecs, ParsedFlags } from "../cli/flags.ts";
import type { LabConfig } from "../config/load.ts";
import type { Lab } from "../lab/lab.ts";
import type { AlarmView } from "./context.ts";
import type { Logger } from "./log.ts";

/** What an add-on gets when it starts. */
export interface AddonContext {
  /** The devices (all I/O through their managers: the same queues as the HTTP API). */
  lab: Lab;
  /** The config (its raw sections: `[ca]` for the CA server). */
  config: LabConfig;
  /** Every flag `serve` parsed, the add-on's own included. */
  flags: ParsedFlags;
  /** The alarm engine, when alarms are configured (CA alarm severities). */
  alarms?: AlarmView & { severityOf?(device: string, attr?: string): number };
  /** The daemon's log. */
  log: Logger;
  /** Adds lines to `/metrics` (Prometheus text), read on every scrape. */
  addMetrics?(lines: () => string): void;
}

/** A running add-on. */
export interface RunningAddon {
  /** Stops it (called on SIGTERM/SIGINT, before devices close). */
  close(): Promise<void>;
}

/** A server that can run inside `labwire serve`. */
export interface ServeAddon {
  /** Short name for logs, e.g. "ca". */
  name: string;
  /** Its flags, merged into `serve`'s, e.g. `{ ca: {type: "boolean"}, "ca-prefix": {type: "string"} }`. */
  flags: FlagSpecs;
  /** Lines for `serve --help`. */
  help: string;
  /** True when the parsed flags or the config ask for it (e.g. `--ca` given, or a `[ca]` section). */
  wanted(flags: ParsedFlags, config?: LabConfig): boolean;
  /** Starts it; a thrown UsageError/ConfigError stops `serve` with exit 2. */
  start(ctx: AddonContext): Promise<RunningAddon>;
}

const addons: ServeAddon[] = [];

/** Registers an add-on (call once, at import time). */
export function registerServeAddon(addon: ServeAddon): void {
  if (!addons.some((a) => a.name === addon.name)) addons.push(addon);
}

/** Every registered add-on. */
export function serveAddons(): readonly ServeAddon[] {
  return addons;
}
