/**
 * labwire — one program for talking to laboratory instruments.
 *
 * `main.ts` only dispatches: it parses the verb, runs `cmd/<verb>.ts` and maps errors to the
 * exit codes of the output contract (0 ok, 1 device or runtime error, 2 usage or config error,
 * 130 interrupted). Run from source with `deno run -A main.ts <verb>`.
 *
 * @module
 */
import "./lib/drivers/mod.ts";
import denoJson from "./deno.json" with { type: "json" };
import { type Command, EXIT } from "./lib/cli/command.ts";
import { didYouMean } from "./lib/cli/suggest.ts";
import { ConfigError, DeviceError, UsageError } from "./lib/device/errors.ts";
import { PipeClosed } from "./lib/output/stdout.ts";
import { colorEnabled, paint } from "./lib/output/terminal.ts";
import { listDrivers } from "./lib/device/registry.ts";
import { readCommand } from "./cmd/read.ts";
import { writeCommand } from "./cmd/write.ts";
import { streamCommand } from "./cmd/stream.ts";

/** labwire's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** Every verb, in the order `--help` lists them. */
export const COMMANDS: Command[] = [readCommand, writeCommand, streamCommand];

function mainHelp(): string {
  const verbs = COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join("\n");
  const drivers = listDrivers().map((d) =>
    `  ${(d.scheme + "://").padEnd(12)} ${d.summary}  e.g. ${d.example}`
  )
    .join("\n");
  return `labwire ${VERSION} — talk to laboratory instruments

Usage: labwire <verb> [TARGET…] [flags]

Verbs:
${verbs}

A TARGET is a device name from the config file (./labwire.toml, --config FILE or
$LABWIRE_CONFIG) or an address:
${drivers}

Every verb takes --demo (a built-in simulated bench: gauge, thermo, motor, dmm, det),
--config FILE, --json and --no-color.

Examples:
  labwire read --demo gauge
  labwire read baratron://192.168.1.100 | jq .pressure
  labwire stream --demo --interval 500ms | head -5
  labwire write --demo motor position=2.5

Run "labwire <verb> --help" for a verb's flags and examples.
`;
}

/** Runs labwire with `args` (without the program name) and resolves to its exit code. */
export async function main(args: string[]): Promise<number> {
  const color = colorEnabled(args.includes("--no-color"), Deno.stderr.isTerminal());
  const p = paint(color);
  const [verb, ...rest] = args;
  if (verb === undefined) {
    console.error(mainHelp());
    return EXIT.usage;
  }
  if (verb === "--help" || verb === "-h" || verb === "help") {
    const sub = verb === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    console.log(sub ? sub.help : mainHelp());
    return EXIT.ok;
  }
  if (verb === "--version" || verb === "-V" || verb === "version") {
    console.log(`labwire ${VERSION} (deno ${Deno.version.deno})`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === verb);
  if (!command) {
    const names = COMMANDS.map((c) => c.name);
    const hint = verb.startsWith("-")
      ? `flags go after the verb: labwire <verb> ${verb}`
      : didYouMean(verb, names) || `verbs: ${names.join(", ")}`;
    console.error(`${p.red("labwire:")} unknown verb "${verb}" (${hint})`);
    return EXIT.usage;
  }
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

function report(err: unknown, verb: string, p: ReturnType<typeof paint>): number {
  if (err instanceof PipeClosed) return EXIT.ok;
  const prefix = p.red(`labwire ${verb}:`);
  if (err instanceof UsageError || err instanceof ConfigError) {
    console.error(`${prefix} ${err.message}`);
    if (err instanceof UsageError && err.hint) console.error(`  ${err.hint}`);
    return EXIT.usage;
  }
  if (err instanceof DeviceError) {
    console.error(`${prefix} ${err.message}`);
    return EXIT.device;
  }
  const e = err as Error;
  console.error(`${prefix} ${e?.message ?? String(err)}`);
  if (Deno.env.get("LABWIRE_DEBUG")) console.error(e?.stack);
  return EXIT.device;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
