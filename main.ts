/**
 * labwire - one program for talking to laboratory instruments.
 *
 * `main.ts` only dispatches: it parses the verb, runs `cmd/<verb>.ts` and maps errors to the
 * exit codes of the output contract (0 ok, 1 device or runtime error, 2 usage or config error,
 * 130 interrupted). Run from source with `deno run -A main.ts <verb>`.
 *
 * @module
 */
import { loadModule } from "./lib/device/lazy_module.ts";
import { registerAllFamilies } from "./lib/drivers/families.ts";
import denoJson from "./deno.json" with { type: "json" };
import { type Command, EXIT } from "./lib/cli/command.ts";
import { installLastResort } from "./lib/cli/last_resort.ts";
import { didYouMean } from "./lib/device/suggest.ts";
import { ConfigError, DeviceError, UsageError } from "./lib/device/errors.ts";
import { PipeClosed } from "./lib/output/stdout.ts";
import { colorEnabled, paint } from "./lib/output/terminal.ts";
import { listDrivers } from "./lib/device/registry.ts";
/** labwire's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** A verb as `main.ts` knows it: enough for `--help`, and how to load the rest. */
export interface Verb {
  /** The verb. */
  name: string;
  /** One line for `labwire --help` (kept equal to the command's own summary by a test). */
  summary: string;
  /** Loads the verb's module. */
  load(): Promise<Command>;
  /**
   * `"targets"` when the verb registers the driver families its targets and config need itself
   * (through `lib/lab/setup.ts`); every other verb finds every family registered when it runs.
   */
  families?: "targets";
}

/**
 * Every verb, in the order `--help` lists them. Modules load on demand so `labwire read` does
 * not pay for the HTTP server, SQLite and zod at start-up (~65 ms instead of ~180 ms), nor for
 * Deno reading the other verbs' modules (`lib/device/lazy_module.ts`).
 */
export const VERBS: Verb[] = [
  {
    name: "read",
    summary: "one reading of one or more devices, as one JSON document",
    // A read of ca:// addresses needs the EPICS family's rules alone, not the register-map
    // checker and the other families' option rules (lib/drivers/families.ts).
    families: "targets",
    load: async () =>
      (await loadModule<typeof import("./cmd/read.ts")>(new URL("./cmd/read.ts", import.meta.url)))
        .readCommand,
  },
  {
    name: "write",
    summary: "set attributes (validated first), print the read-back",
    load: async () =>
      (await loadModule<typeof import("./cmd/write.ts")>(
        new URL("./cmd/write.ts", import.meta.url),
      )).writeCommand,
  },
  {
    name: "query",
    summary: "raw commands to a SCPI/ASCII instrument or Modbus requests, one answer per line",
    load: async () =>
      (await loadModule<typeof import("./cmd/query.ts")>(
        new URL("./cmd/query.ts", import.meta.url),
      )).queryCommand,
  },
  {
    name: "stream",
    summary: "continuous readings: live table, NDJSON in a pipe, or CSV",
    load: async () =>
      (await loadModule<typeof import("./cmd/stream.ts")>(
        new URL("./cmd/stream.ts", import.meta.url),
      )).streamCommand,
  },
  {
    name: "monitor",
    summary: "record a whole bench into a session file, with alarms",
    load: async () =>
      (await loadModule<typeof import("./cmd/monitor.ts")>(
        new URL("./cmd/monitor.ts", import.meta.url),
      )).monitorCommand,
  },
  {
    name: "serve",
    summary: "serve every device over HTTP with a live dashboard and metrics, while recording",
    load: async () =>
      (await loadModule<typeof import("./cmd/serve.ts")>(
        new URL("./cmd/serve.ts", import.meta.url),
      )).serveCommand,
  },
  {
    name: "scan",
    summary: "step scans: ascan, dscan, a2scan, mesh, list, count \u2014 table, NDJSON, resume",
    load: async () =>
      (await loadModule<typeof import("./cmd/scan.ts")>(new URL("./cmd/scan.ts", import.meta.url)))
        .scanCommand,
  },
  {
    name: "sim",
    summary: "run simulated instruments (e.g. MKS eBaratron gauges) on local ports",
    load: async () =>
      (await loadModule<typeof import("./cmd/sim.ts")>(new URL("./cmd/sim.ts", import.meta.url)))
        .simCommand,
  },
  {
    name: "instruments",
    summary: "list, show and check instrument definitions (SCPI and ASCII instruments as data)",
    load: async () =>
      (await loadModule<typeof import("./cmd/instruments.ts")>(
        new URL("./cmd/instruments.ts", import.meta.url),
      )).instrumentsCommand,
  },
  {
    name: "session",
    summary: "list, inspect, export and follow recorded sessions",
    load: async () =>
      (await loadModule<typeof import("./cmd/session.ts")>(
        new URL("./cmd/session.ts", import.meta.url),
      )).sessionCommand,
  },
  {
    name: "devices",
    summary: "list the devices of a config (address, driver, interval; state from a daemon)",
    load: async () =>
      (await loadModule<typeof import("./cmd/devices.ts")>(
        new URL("./cmd/devices.ts", import.meta.url),
      )).devicesCommand,
  },
  {
    name: "task",
    summary: "tomato-style tasks: start, list, status, stop, data (on a running serve, or here)",
    load: async () =>
      (await loadModule<typeof import("./cmd/task.ts")>(new URL("./cmd/task.ts", import.meta.url)))
        .taskCommand,
  },
  {
    name: "position",
    summary: "named positions: save, restore (--wait), list, show, delete",
    load: async () =>
      (await loadModule<typeof import("./cmd/position.ts")>(
        new URL("./cmd/position.ts", import.meta.url),
      )).positionCommand,
  },
  {
    name: "completions",
    summary: "print a shell completion script: bash, zsh or fish",
    load: async () =>
      (await loadModule<typeof import("./cmd/completions.ts")>(
        new URL("./cmd/completions.ts", import.meta.url),
      )).completionsCommand(VERBS),
  },
];

async function mainHelp(): Promise<string> {
  await registerAllFamilies();
  const width = Math.max(...VERBS.map((c) => c.name.length));
  const verbs = VERBS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n");
  const schemes = listDrivers();
  const schemeWidth = Math.max(...schemes.map((d) => d.scheme.length + 3));
  const drivers = schemes.map((d) =>
    `  ${(d.scheme + "://").padEnd(schemeWidth)}  ${d.summary}\n  ${
      "".padEnd(schemeWidth)
    }  e.g. ${d.example}`
  ).join("\n");
  return `labwire ${VERSION} \u2014 talk to laboratory instruments

Usage: labwire <verb> [TARGET\u2026] [flags]

Verbs:
${verbs}

A TARGET is a device name from the config file (./labwire.toml, --config FILE or
$LABWIRE_CONFIG) or an address:
${drivers}

Every verb takes --demo (a built-in simulated bench: gauge, thermo, motor, dmm, det),
--config FILE, --json, --no-color, --time iso (machine output: ISO 8601 with offset
instead of epoch seconds) and --utc (times in UTC instead of local time).

Examples:
  labwire read --demo gauge
  labwire read baratron://192.168.1.100 | jq .pressure
  labwire stream --demo --interval 500ms | head -5
  labwire write --demo motor position=2.5

Run "labwire <verb> --help" for a verb's flags and examples.
`;
}

/**
 * Takes `--instruments DIR` (any verb, any number of times) out of the arguments: the folders
 * or files of user instrument definitions to load.
 *
 * @example
 * ```ts
 * import { takeInstrumentDirs } from "./main.ts";
 * takeInstrumentDirs(["read", "--instruments", "defs", "x"]); // { args: ["read", "x"], dirs: ["defs"] }
 * ```
 */
export function takeInstrumentDirs(args: string[]): { args: string[]; dirs: string[] } {
  // One native search first: a read of a thousand targets names no folder, and a loop over
  // them in cold code is ~0.5 ms.
  if (!args.join("\n").includes("--instruments")) return { args, dirs: [] };
  const out: string[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") {
      out.push(...args.slice(i));
      break;
    }
    if (a === "--instruments" && i + 1 < args.length) dirs.push(args[++i]!);
    else if (a.startsWith("--instruments=")) dirs.push(a.slice("--instruments=".length));
    else out.push(a);
  }
  return { args: out, dirs };
}

/** Runs labwire with `args` (without the program name) and resolves to its exit code. */
export async function main(argv: string[]): Promise<number> {
  const { args, dirs } = takeInstrumentDirs(argv);
  if (dirs.length > 0) {
    // Loaded only when a run names a folder of definitions (../device/lazy_module.ts).
    const { addInstrumentSource } = await loadModule<typeof import("./lib/instruments/sources.ts")>(
      new URL("./lib/instruments/sources.ts", import.meta.url),
    );
    for (const d of dirs) addInstrumentSource(d);
  }
  const color = colorEnabled(args.includes("--no-color"), Deno.stderr.isTerminal());
  const p = paint(color);
  const verb = args[0];
  const rest = args.slice(1);
  if (verb === undefined) {
    console.error(await mainHelp());
    return EXIT.usage;
  }
  if (verb === "--help" || verb === "-h" || verb === "help") {
    const asked = verb === "help" ? rest[0] : undefined;
    const sub = VERBS.find((c) => c.name === asked);
    if (asked !== undefined && !sub) return unknownVerb(asked, p);
    console.log(sub ? (await sub.load()).help : await mainHelp());
    return EXIT.ok;
  }
  if (verb === "--version" || verb === "-V" || verb === "version") {
    console.log(`labwire ${VERSION} (deno ${Deno.version.deno})`);
    return EXIT.ok;
  }
  const entry = VERBS.find((c) => c.name === verb);
  if (!entry) return unknownVerb(verb, p);
  if (entry.families === undefined) await registerAllFamilies();
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    return report(err, command.name, p);
  }
}

/** Says a verb is unknown, with the closest verb (`raed` -> `read`) or the list; exit 2. */
function unknownVerb(verb: string, p: ReturnType<typeof paint>): number {
  const names = VERBS.map((c) => c.name);
  const hint = verb.startsWith("-")
    ? `flags go after the verb: labwire <verb> ${verb}`
    : didYouMean(verb, names) || `verbs: ${names.join(", ")}`;
  console.error(`${p.red("labwire:")} unknown verb "${verb}" (${hint})`);
  return EXIT.usage;
}

/**
 * The line `main` prints for a verb's error `message`: `labwire VERB: message`, or
 * `labwire VERB SUBCOMMAND: message` for a usage error that carries its subcommand (the
 * prefix is built here, once; messages do not name the verb or the subcommand themselves).
 *
 * @example
 * ```ts
 * import { errorLine } from "./main.ts";
 * errorLine("session", "give the session FILE", undefined, "tail");
 * // "labwire session tail: give the session FILE"
 * ```
 */
export function errorLine(
  verb: string,
  message: string,
  red: (s: string) => string = (s) => s,
  subcommand?: string,
): string {
  return `${red(`labwire ${verb}${subcommand === undefined ? "" : ` ${subcommand}`}:`)} ${message}`;
}

function report(err: unknown, verb: string, p: ReturnType<typeof paint>): number {
  if (err instanceof PipeClosed) return EXIT.ok;
  const line = (message: string) => errorLine(verb, message, p.red);
  if (err instanceof UsageError) {
    console.error(errorLine(verb, err.message, p.red, err.subcommand));
    if (err.hint) console.error(`  ${err.hint}`);
    return EXIT.usage;
  }
  if (err instanceof ConfigError) {
    console.error(line(err.message));
    return EXIT.usage;
  }
  if (err instanceof DeviceError) {
    console.error(line(err.message));
    return EXIT.device;
  }
  const e = err as Error;
  console.error(line(e?.message ?? String(err)));
  if (Deno.env.get("LABWIRE_DEBUG")) console.error(e?.stack);
  return EXIT.device;
}

if (import.meta.main) {
  // A bug that loses a promise is logged, never the silent death of a daemon.
  installLastResort();
  Deno.exit(await main(Deno.args));
}
