/**
 * `labwire instruments list|show NAME|check FILE…` — the instrument definitions labwire knows
 * (built in, and the user's from `[instruments]` in labwire.toml, `--instruments DIR` and
 * `~/.config/labwire/instruments/`), one in detail, and validation of definition files with
 * errors naming the file and the key.
 *
 * @module
 */
import type { RegisterAttr } from "../lib/instruments/register_map.ts";
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { boolFlag, parseFlags } from "../lib/cli/flags.ts";
import { UsageError } from "../lib/device/errors.ts";
import { didYouMean } from "../lib/device/suggest.ts";
import type { Instrument } from "../lib/instruments/definition.ts";
import { checkFile, findInstrument, rawCatalog, resolveEntry } from "../lib/instruments/loader.ts";
import { alignColumns } from "../lib/output/columns.ts";
import { jsonDocument } from "../lib/output/record.ts";
import { stdoutSink, type TextSink } from "../lib/output/stdout.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";

const SUBCOMMANDS = ["list", "show", "check"];

/** The parsed options of `instruments`. */
export interface InstrumentsOptions {
  /** list, show or check. */
  sub: "list" | "show" | "check";
  /** The instrument name (show) or files (check). */
  args: string[];
  /** JSON output. */
  json: boolean;
  /** check: also run each definition against its own simulator. */
  sim: boolean;
}

/** Parses `instruments`' arguments (pure). */
export function parseInstrumentsArgs(args: string[]): InstrumentsOptions {
  const f = parseFlags(args, { sim: { type: "boolean" } }, "instruments");
  const [sub = "list", ...rest] = f.positionals;
  if (!SUBCOMMANDS.includes(sub)) {
    throw new UsageError(
      `unknown subcommand "${sub}"`,
      didYouMean(sub, SUBCOMMANDS) || "use: labwire instruments list | show NAME | check FILE",
    );
  }
  if (sub === "show" && rest.length !== 1) {
    throw new UsageError(
      "show needs one instrument name",
      "e.g. labwire instruments show lakeshore-336",
    );
  }
  if (sub === "check" && rest.length === 0) {
    throw new UsageError(
      "check needs a definition file",
      "e.g. labwire instruments check my-psu.toml",
    );
  }
  if (sub === "list" && rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  if (boolFlag(f, "sim") && sub !== "check") throw new UsageError("--sim goes with check");
  return {
    sub: sub as InstrumentsOptions["sub"],
    args: rest,
    json: boolFlag(f, "json"),
    sim: boolFlag(f, "sim"),
  };
}

/** The summary of a definition as `list --json` prints it. */
export function summary(inst: Instrument): Record<string, unknown> {
  return {
    name: inst.name,
    manufacturer: inst.manufacturer ?? null,
    model: inst.model ?? null,
    protocol: inst.protocol,
    port: inst.transport.port ?? null,
    attrs: inst.attrs.length,
    actions: inst.actions.length,
    source: inst.source.startsWith("built-in:") ? "built-in" : inst.source,
    description: inst.description ?? null,
  };
}

/** A definition in full, as `show --json` prints it. */
export function detail(inst: Instrument): Record<string, unknown> {
  const t = inst.transport;
  return {
    ...summary(inst),
    transport: {
      port: t.port ?? null,
      serial: `${t.baud} ${t.bits}${t.parity[0]!.toUpperCase()}${t.stop}`,
      flow: t.flow,
      read_termination: t.readTermination,
      write_termination: t.writeTermination,
      encoding: t.encoding,
      timeout_ms: t.timeoutMs,
      delay_ms: t.delayMs,
      window: t.window,
      ...(t.unit ? { unit: t.unit } : {}),
    },
    identify: inst.identify
      ? {
        query: inst.identify.query,
        match: inst.identify.match?.source ?? null,
        on_mismatch: inst.identify.onMismatch,
      }
      : null,
    init: inst.init,
    errors: inst.errors
      ? inst.errors.suffix
        ? { suffix: inst.errors.suffix, mask: inst.errors.mask }
        : { query: inst.errors.query, ok: inst.errors.ok.source }
      : null,
    channels: inst.channels,
    attrs: Object.fromEntries(inst.attrs.map((a) => {
      const { name: _name, ...fields } = a.attr;
      return [a.attr.name, {
        ...fields,
        ...(a.get ? { get: a.get } : {}),
        ...(a.set ? { set: a.set } : {}),
        ...(a.register ? { register: registerFields(a.register) } : { parse: a.parse.kind }),
        ...(a.values ? { values: a.values } : {}),
      }];
    })),
    actions: Object.fromEntries(
      inst.actions.map((a) => [a.name, { command: a.command, description: a.description ?? null }]),
    ),
  };
}

/** A register attribute's wire details for `show --json`. */
function registerFields(r: RegisterAttr): Record<string, unknown> {
  return {
    table: r.table,
    address: r.address,
    type: r.type,
    ...(r.type === "bit" ? { bit: r.bit } : {}),
    ...(r.type === "string" ? { length: r.length } : {}),
    ...(["int32", "uint32", "float32", "float64", "string"].includes(r.type)
      ? { word_order: r.order }
      : {}),
    ...(r.scale !== 1 ? { scale: r.scale } : {}),
    ...(r.offset !== 0 ? { offset: r.offset } : {}),
    ...(r.write ? { write: r.write } : {}),
  };
}

/** A register attribute's wire details in one line: `holding 4097 int16 ×0.1 FC6`. */
function registerText(r: RegisterAttr): string {
  return [
    `${r.table} ${r.address}`,
    r.type === "bit" ? `bit ${r.bit}` : r.type,
    ["int32", "uint32", "float32", "float64"].includes(r.type) ? r.order : "",
    r.scale !== 1 ? `×${r.scale}` : "",
    r.offset !== 0 ? `${r.offset > 0 ? "+" : ""}${r.offset}` : "",
    r.write ? `FC${r.write}` : "",
  ].filter(Boolean).join(" ");
}

/** A listing's rows as aligned lines, as `devices` and `task list` print theirs. */
function pad(rows: string[][]): string {
  return alignColumns(rows).map((l) => l + "\n").join("");
}

/** The text `show` prints for people. */
export function showText(inst: Instrument): string {
  const t = inst.transport;
  const lines = [
    `${inst.name}: ${[inst.manufacturer, inst.model].filter(Boolean).join(" ")}`,
    inst.description ? `  ${inst.description}` : "",
    `  protocol ${inst.protocol}; ${
      t.port ? `TCP port ${t.port}; ` : ""
    }serial ${t.baud} ${t.bits}` +
    `${t.parity[0]!.toUpperCase()}${t.stop}; ` +
    (inst.modbus
      ? `unit ${inst.modbus.unit}; word order ${inst.modbus.wordOrder}`
      : `terminations write ${JSON.stringify(t.writeTermination)} ` +
        `read ${JSON.stringify(t.readTermination)}`) +
    `; timeout ${t.timeoutMs} ms`,
    inst.identify?.match
      ? `  identify: ${inst.identify.query} ~ /${inst.identify.match.source}/ (${inst.identify.onMismatch} on mismatch)`
      : "",
    inst.errors
      ? `  errors: ${
        inst.errors.suffix ? `suffix ${inst.errors.suffix}` : `${inst.errors.query} after writes`
      }`
      : "",
    `  source: ${inst.source}`,
    "",
  ].filter((l, i) => l !== "" || i === 6);
  const rows = [[
    "ATTRIBUTE",
    "TYPE",
    "RW",
    "UNITS",
    "LIMITS",
    inst.protocol === "modbus" ? "REGISTER" : "COMMAND",
  ]];
  for (const a of inst.attrs) {
    const x = a.attr;
    const limits = x.options
      ? x.options.join("|")
      : a.values
      ? a.values.join("|")
      : x.min !== undefined || x.max !== undefined
      ? `${x.min ?? ""}…${x.max ?? ""}`
      : "";
    rows.push([
      x.name + (x.status ? " *" : ""),
      x.type,
      x.rw ? "rw" : "r",
      x.units ?? "",
      limits,
      a.register ? registerText(a.register) : [a.get, a.set].filter(Boolean).join(" / "),
    ]);
  }
  let out = lines.join("\n") + "\n" + pad(rows);
  if (inst.actions.length) {
    out += "\n" +
      pad([
        ["ACTION", "COMMAND", "DESCRIPTION"],
        ...inst.actions.map((a) => [a.name, a.command, a.description ?? ""]),
      ]);
  }
  return out + "\n(* = part of the default reading)\n";
}

/** Runs `instruments`, writing to `out`. */
export async function runInstruments(args: string[], out: TextSink = stdoutSink): Promise<number> {
  const opts = parseInstrumentsArgs(args);
  const json = opts.json || !stdoutIsTerminal();
  if (opts.sub === "list") {
    const catalog = await rawCatalog();
    const list = [...catalog.values()].sort((a, b) => a.name.localeCompare(b.name)).map((e) =>
      resolveEntry(e, catalog)
    );
    if (json) out.write(jsonDocument(list.map(summary), false));
    else {
      out.write(
        pad([
          ["NAME", "PROTOCOL", "PORT", "DESCRIPTION"],
          ...list.map((
            i,
          ) => [i.name, i.protocol, String(i.transport.port ?? ""), i.description ?? ""]),
        ]),
      );
    }
    return EXIT.ok;
  }
  if (opts.sub === "show") {
    const inst = await findInstrument(opts.args[0]!);
    out.write(json ? jsonDocument(detail(inst), false) : showText(inst));
    return EXIT.ok;
  }
  let failed = 0;
  for (const file of opts.args) {
    const inst = await checkFile(file);
    const line =
      `${file}: ok — ${inst.name}, ${inst.attrs.length} attributes, ${inst.actions.length} actions`;
    if (!opts.sim) {
      out.write(json ? jsonDocument({ file, ok: true, ...summary(inst) }, false) : line + "\n");
      continue;
    }
    // Loaded here only: the simulator and driver are not needed to validate a file.
    const { selfCheck } = await import("../lib/drivers/self_check.ts");
    const steps = await selfCheck(inst);
    const bad = steps.filter((s) => !s.ok);
    failed += bad.length;
    if (json) {
      out.write(jsonDocument({ file, ok: bad.length === 0, ...summary(inst), steps }, false));
    } else {
      out.write(
        `${line}; against its simulator: ${
          steps.length - bad.length
        } of ${steps.length} steps ok\n` +
          bad.map((s) => `  ${s.step}: ${s.detail}\n`).join(""),
      );
    }
  }
  return failed > 0 ? EXIT.device : EXIT.ok;
}

/** The `instruments` verb. */
export const instrumentsCommand: Command = {
  name: "instruments",
  summary: "list, show and check instrument definitions (SCPI and ASCII instruments as data)",
  run: (args) => runInstruments(args),
  help: `labwire instruments — the instrument definitions labwire knows

Usage: labwire instruments list
       labwire instruments show NAME
       labwire instruments check FILE…

An instrument definition is a TOML file (see README, "Instruments"): its transport defaults,
identification, error checking, and per attribute the command to read or set it, how to parse
the answer and its units and limits. Built-in definitions ship inside labwire; yours come from
[instruments] path = "DIR" in labwire.toml, --instruments DIR, and ~/.config/labwire/instruments/.
A device names its definition with ?instrument=NAME in its address or instrument = "NAME" in
its config table.

  list        every definition: name, protocol, default port, description
  show NAME   one definition: line settings, identification, attributes, actions
  check FILE  validate definition files; an error names the file and the key (exit 2);
              with --sim, also run each against its own simulator through the driver: every
              attribute read, every writable one written and read back, every action run
              (exit 1 when a step fails, listing it)

Flags:
      --json              JSON output (the default when stdout is not a terminal)
      --instruments DIR   also load definitions from DIR (any verb takes it)

Examples:
  labwire instruments list
  labwire instruments show keysight-34461a
  labwire instruments check ~/my-instruments/psu.toml --sim
  labwire sim lakeshore-336 --listen 127.0.0.1:0
  labwire read "tcp://10.0.0.7:7777?instrument=lakeshore-336"
`,
};
