/**
 * `labwire write TARGET ATTR=VALUE…` — set attributes (caput), validated against each
 * attribute's declaration before anything is sent, then print the read-back.
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { boolFlag, durationFlag, parseFlags, stringFlag, timeFlags } from "../lib/cli/flags.ts";
import { TIMEOUT_RULE } from "../lib/config/duration.ts";
import { UsageError } from "../lib/device/errors.ts";
import { openLab } from "../lib/lab/setup.ts";
import { type Assignment, writeAssignments } from "../lib/lab/write.ts";
import { jsonDocument, readingRecord } from "../lib/output/record.ts";
import type { TimeOptions } from "../lib/output/time.ts";
import { stdoutSink } from "../lib/output/stdout.ts";
import { stdoutIsTerminal } from "../lib/output/terminal.ts";

const FLAGS = {
  timeout: { type: "string", short: "t" },
  wait: { type: "boolean", short: "w" },
} as const;

/** The parsed options of `write`. */
export interface WriteOptions {
  /** The one device written to. */
  target: string;
  /** Assignments in order, values as text; `bare` for a name alone (an action). */
  assignments: Assignment[];
  /** Per-call timeout, ms. */
  timeout?: number;
  /** Wait for completion (EPICS put-callback; positioners: until the move ends). */
  wait: boolean;
  /** `--config FILE`. */
  config?: string;
  /** `--demo`. */
  demo: boolean;
  /** `--time epoch|iso` and `--utc`. */
  time: Required<TimeOptions>;
}

/** Parses `write`'s arguments (pure). */
export function parseWriteArgs(args: string[]): WriteOptions {
  const f = parseFlags(args, FLAGS, "write");
  const [target, ...pairs] = f.positionals;
  if (target === undefined || pairs.length === 0) {
    throw new UsageError(
      "give a TARGET and at least one ATTR=VALUE",
      "e.g. labwire write --demo motor position=2.5",
    );
  }
  const assignments = pairs.map((p): Assignment => {
    const i = p.indexOf("=");
    // A bare name may be an action (tare, reset, trigger): checked once the attrs are known.
    if (i < 0 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) return { attr: p, text: "true", bare: true };
    if (i <= 0) throw new UsageError(`"${p}" is not ATTR=VALUE`, "e.g. position=2.5");
    return { attr: p.slice(0, i), text: p.slice(i + 1) };
  });
  return {
    target,
    assignments,
    timeout: durationFlag(f, "timeout", TIMEOUT_RULE),
    wait: boolFlag(f, "wait"),
    config: stringFlag(f, "config"),
    demo: boolFlag(f, "demo"),
    time: timeFlags(f),
  };
}

/** Runs `write`. */
export async function runWrite(args: string[]): Promise<number> {
  const opts = parseWriteArgs(args);
  const lab = await openLab({ ...opts, targets: [opts.target] });
  try {
    const r = await writeAssignments(lab.managers[0]!, opts.assignments, opts);
    stdoutSink.write(jsonDocument(readingRecord(r, opts.time), stdoutIsTerminal()));
    return EXIT.ok;
  } finally {
    await lab.close();
  }
}

/** The `write` verb. */
export const writeCommand: Command = {
  name: "write",
  summary: "set attributes (validated first), print the read-back",
  run: runWrite,
  help: `labwire write — set attributes of one device, print the read-back

Usage: labwire write TARGET ATTR=VALUE… [--wait] [--timeout 2s]
       labwire write TARGET ACTION            (an instrument's action: tare, reset, trigger…)

Every value is checked against the attribute's declaration (read-only, type,
limits, enum options) before anything is sent; a refused write exits with code 2
and touches nothing. An array is written as value=1,2,3; an EPICS enum takes a
state's name or its index (value=Open, value=1). Without --wait a write returns
once it is sent (an EPICS put, like caput without -c).

The read-back is printed as a reading, the shape read and stream print: "t"
(epoch seconds; ISO 8601 with --time iso), "device", then the written attributes
(after --wait, the device's usual reading too).

Flags:
  -w, --wait           wait until the device reports completion (a motor stops
                       moving; an EPICS put completes) before the read-back
  -t, --timeout 2s     per-call timeout (with --wait, also how long a move may
                       take; default 60s)
  -c, --config FILE    config file (default ./labwire.toml or $LABWIRE_CONFIG)
      --demo           use the built-in simulated bench

Examples:
  labwire write --demo motor position=2.5 --wait
  labwire write --demo dmm range=10
  labwire write sim://thermo setpoint=25
  labwire write ca://XXX:m1.VAL value=1.5 --wait
  labwire write ca://XXX:wave value=1,2,3
  labwire write "tcp://10.0.0.7:5025?instrument=keysight-e36312a" ch1_voltage_set=5 ch1_output=on
  labwire write "serial:///dev/ttyUSB0?instrument=alicat&unit=A" tare_flow
`,
};
