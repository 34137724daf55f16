/**
 * `labwire position save|restore|list|show|delete` — named positions (pyepics `Instruments`):
 * save the values of some attributes (or a `[positions]` group of the config) under a name,
 * restore them later in the same order (`--wait` for each move), kept in `positions.sqlite` in
 * labwire's state directory.
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { type Interrupts, listenForInterrupts } from "../lib/cli/interrupt.ts";
import { boolFlag, durationFlag, listFlag, parseFlags, stringFlag } from "../lib/cli/flags.ts";
import { TIMEOUT_RULE } from "../lib/config/duration.ts";
import { resolveTargets } from "../lib/config/targets.ts";
import { inSubcommand, UsageError } from "../lib/device/errors.ts";
import { suggestionThen } from "../lib/device/suggest.ts";
import { Lab } from "../lib/lab/lab.ts";
import type { DeviceConfig, LabConfig } from "../lib/config/load.ts";
import { loadLabConfig } from "../lib/lab/setup.ts";
import { jsonDocument } from "../lib/output/record.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";
import { parseRef } from "../lib/scan/plan.ts";
import {
  positionRefs,
  readPosition,
  RestoreInterrupted,
  restorePosition,
} from "../lib/scan/positions.ts";
import {
  checkPositionName,
  type NamedPosition,
  POSITIONS_FILE,
  PositionStore,
  stateDir,
} from "../lib/session/positions.ts";

const FLAGS = {
  wait: { type: "boolean" },
  timeout: { type: "string" },
  devices: { type: "string", multiple: true },
  file: { type: "string" },
} as const;

/** The subcommands of `position` (also what its completion offers). */
export const SUBCOMMANDS = ["save", "restore", "list", "show", "delete"];

/** A position as printed: values as an object in their order. */
function positionDocument(p: NamedPosition): Record<string, unknown> {
  return { name: p.name, saved: p.saved, values: Object.fromEntries(p.values) };
}

/** Runs `position`. */
export async function runPosition(args: string[]): Promise<number> {
  const f = parseFlags(args, FLAGS, "position");
  const [sub, name, ...words] = f.positionals;
  if (sub === undefined || !SUBCOMMANDS.includes(sub)) {
    throw new UsageError(
      sub === undefined ? "give a subcommand" : `unknown subcommand "${sub}"`,
      suggestionThen(
        sub,
        SUBCOMMANDS,
        `subcommands: ${SUBCOMMANDS.join(", ")}; see: labwire position --help`,
      ),
    );
  }
  const at = { subcommand: sub };
  if (sub !== "list" && name === undefined) throw new UsageError("give a NAME", undefined, at);
  if (sub !== "save" && words.length > 0) {
    throw new UsageError(`unexpected "${words.join(" ")}"`, undefined, at);
  }
  try {
    return await positionSubcommand(f, sub, name, words);
  } catch (err) {
    // what the store and the lab refuse is said under the subcommand, as its own mistakes
    throw inSubcommand(err, sub);
  }
}

/** Runs position `sub` (checked) on `name` (given unless `sub` is list). */
async function positionSubcommand(
  f: ReturnType<typeof parseFlags>,
  sub: string,
  name: string | undefined,
  words: string[],
): Promise<number> {
  if (name !== undefined) checkPositionName(name);
  const pretty = stdoutIsTerminal();
  const store = PositionStore.open(stringFlag(f, "file") ?? `${stateDir()}/${POSITIONS_FILE}`);
  try {
    switch (sub) {
      case "list":
        stdoutSink.write(jsonDocument({ positions: store.list().map(positionDocument) }, pretty));
        return EXIT.ok;
      case "show":
        stdoutSink.write(jsonDocument(positionDocument(store.require(name!)), pretty));
        return EXIT.ok;
      case "delete":
        store.delete(name!);
        console.error(`deleted position ${name} from ${store.path}`);
        return EXIT.ok;
    }
    const timeout = durationFlag(f, "timeout", TIMEOUT_RULE);
    const saved = sub === "restore" ? store.require(name!) : undefined;
    // From here a restore answers Ctrl-C and SIGTERM alike (exit 130, "interrupted"): while the
    // devices open too, not only once the writes begin (a SIGTERM there killed it with 143).
    // Ctrl-C ends the wait, not the move: the user hears what was under way and what was never
    // written, instead of a silent exit with a motor still going.
    const interrupts = saved ? listenForInterrupts() : undefined;
    try {
      return await savedOrRestored(f, store, name!, words, saved, timeout, interrupts);
    } finally {
      interrupts?.dispose();
    }
  } finally {
    store.close();
  }
}

/** `save` or `restore` on a lab opened from the flags; a restore is stopped by `interrupts`. */
async function savedOrRestored(
  f: ReturnType<typeof parseFlags>,
  store: PositionStore,
  name: string,
  words: string[],
  saved: NamedPosition | undefined,
  timeout: number | undefined,
  interrupts: Interrupts | undefined,
): Promise<number> {
  const pretty = stdoutIsTerminal();
  const interrupted = (err?: unknown) => {
    console.error(`labwire position restore: ${interruptedNote(saved!.name, err)}`);
    return EXIT.interrupted;
  };
  const loaded = await loadLabConfig({
    config: stringFlag(f, "config"),
    demo: boolFlag(f, "demo"),
  });
  try {
    const refs = saved ? saved.values.map(([r]) => r) : positionRefs(words, loaded.config);
    const extra = listFlag(f, "devices") ?? [];
    const opened = resolveTargets(extra, loaded.config);
    const missing = [...new Set(refs.map((r) => parseRef(r).device))]
      .filter((d) => !opened.some((c) => c.name === d));
    const lab = await Lab.open(loaded.config, [...opened, ...otherDevices(missing, loaded.config)]);
    try {
      if (saved && interrupts) {
        if (interrupts.signal.aborted) return interrupted();
        try {
          const done = await restorePosition(lab, saved, {
            wait: boolFlag(f, "wait"),
            timeoutMs: timeout,
            signal: interrupts.signal,
          });
          stdoutSink.write(jsonDocument({ name: saved.name, restored: done }, pretty));
          return EXIT.ok;
        } catch (err) {
          if (!interrupts.signal.aborted) throw err;
          return interrupted(err);
        }
      }
      const p = await readPosition(lab, name, refs);
      const replaced = store.save(p);
      stdoutSink.write(jsonDocument(positionDocument(p), pretty));
      console.error(`${replaced ? "replaced" : "saved"} position ${name} in ${store.path}`);
      return EXIT.ok;
    } finally {
      await lab.close();
    }
  } finally {
    await loaded.cleanup();
  }
}

/**
 * The devices a position names that `--devices` did not open, from the config; one that is not
 * there is a usage error whose hint says how to open it (`--devices`, since positions name
 * `device.attr`, where an address cannot go) unless a name of the config is close to it.
 */
function otherDevices(missing: string[], config: LabConfig): DeviceConfig[] {
  try {
    return resolveTargets(missing, config);
  } catch (err) {
    if (!(err instanceof UsageError) || err.hint?.startsWith("did you mean")) throw err;
    const name = /^unknown device "([^"]*)"/.exec(err.message)?.[1] ?? missing[0];
    throw new UsageError(
      err.message,
      `open it with --devices ADDRESS (e.g. --devices sim://${name}), or give the config it ` +
        "is in (--config FILE)",
      { cause: err },
    );
  }
}

/**
 * What `restore` says on stderr when Ctrl-C or SIGTERM stops it: the value under way by what was
 * under way (a write, or a move, which is not stopped), the values never written, and, for a
 * move only, how to stop the motor.
 *
 * @example
 * ```ts
 * import { RestoreInterrupted } from "../lib/scan/positions.ts";
 * import { interruptedNote } from "./position.ts";
 * interruptedNote("park", new RestoreInterrupted([], "motor.position", ["thermo.setpoint"], "move"));
 * // "park: interrupted: motor.position not reached (its move was not stopped: …); …"
 * ```
 */
export function interruptedNote(name: string, err: unknown): string {
  if (!(err instanceof RestoreInterrupted)) {
    return `${name}: interrupted before any value was written`;
  }
  if (err.phase !== "move") return `${name}: ${err.message}`;
  const device = parseRef(err.underWay).device;
  return `${name}: ${err.message}; to stop a motor: labwire write ${device} stop`;
}

/** The `position` verb. */
export const positionCommand: Command = {
  name: "position",
  summary: "named positions: save, restore (--wait), list, show, delete",
  run: runPosition,
  help: `labwire position — named positions (pyepics Instruments)

Usage:
  labwire position save NAME DEV.ATTR… | GROUP   save the current values
  labwire position restore NAME [--wait]         write them back, in the saved order
  labwire position list | show NAME | delete NAME

save reads the attributes (writable ones: a position is for restoring) and stores
their values under NAME, replacing a position of that name; GROUP is a list of
attributes named in the config:
  [positions]
  sample_stage = ["motor.position", "thermo.setpoint"]
restore checks every value against its attribute and that no scan or task owns the
devices before the first write, then writes them in order; --wait waits for each
move to end (the device's done signal) before the next. Ctrl-C or SIGTERM stops the
restore, not a move under way: it says what was under way (a move not reached, its
motor may still be moving; or a write the device may not have taken) and which
values were never written, and exits 130.

Positions are kept in positions.sqlite in labwire's state directory: $LABWIRE_STATE_DIR,
else $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/labwire, else
~/.local/state/labwire (--file FILE for another). serve answers the same over HTTP:
GET/PUT/DELETE /api/positions/NAME, POST /api/positions/NAME/restore.

Flags:
      --wait             restore: wait for each move to finish
      --timeout 60s      restore --wait: longest wait per value
      --devices T,…      open these targets too (addresses like sim://motor)
      --file FILE        the positions file (default: in the state directory)
  -c, --config FILE      config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo             the built-in simulated bench

Examples:
  labwire position save --demo park motor.position thermo.setpoint
  labwire position list
`,
};
