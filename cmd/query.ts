/**
 * `labwire query TARGET 'CMD?' …` — raw commands to any message-based instrument, one answer per
 * line on stdout (like `lxi scpi` or pyvisa's `query`): for the first minutes with a new
 * instrument, before (or instead of) writing its definition.
 *
 * TARGET is `tcp://HOST:PORT`, `scpi://HOST[:PORT]` (port 5025), `serial:///dev/…?baud=…`, a
 * VISA string (`TCPIP0::HOST::PORT::SOCKET`, `ASRL/dev/ttyUSB0::INSTR`), an address with
 * `?instrument=NAME`, or a device name from the config; the last two take their terminations,
 * encoding, port and line settings from the instrument definition.
 *
 * @module
 */
import type { Command } from "../lib/cli/command.ts";
import { EXIT } from "../lib/cli/command.ts";
import { boolFlag, parseFlags, stringFlag } from "../lib/cli/flags.ts";
import { listenForInterrupts } from "../lib/cli/interrupt.ts";
import { parseDuration } from "../lib/config/duration.ts";
import { UsageError } from "../lib/device/errors.ts";
import { didYouMean } from "../lib/device/suggest.ts";
import { PipeClosed, stdoutSink, type TextSink } from "../lib/output/stdout.ts";
import {
  type Encoding,
  ENCODINGS,
  FramingError,
  parseTermination,
} from "../lib/transport/framing.ts";
import type { LineOptions } from "../lib/transport/message.ts";
import {
  type Datatype,
  DATATYPES,
  decodeBlockData,
  ParseError,
} from "../lib/drivers/message/protocol.ts";
import { openLine } from "../lib/transport/open.ts";
import { type QueryLine, resolveQueryLine } from "../lib/lab/query_target.ts";
import { parseWindow } from "../lib/transport/pipeline.ts";
import { BatchedSink } from "../lib/output/batched_sink.ts";

const FLAGS = {
  write: { type: "boolean", short: "w" },
  binary: { type: "boolean", short: "b" },
  raw: { type: "boolean" },
  datatype: { type: "string" },
  "little-endian": { type: "boolean" },
  timeout: { type: "string", short: "t" },
  term: { type: "string" },
  "read-term": { type: "string" },
  "write-term": { type: "string" },
  encoding: { type: "string" },
  delay: { type: "string" },
  window: { type: "string" },
} as const;

/** The parsed options of `query`. */
export interface QueryOptions {
  /** The instrument. */
  target: string;
  /** Commands in order; empty means "read them from stdin, one per line". */
  commands: string[];
  /** Send without reading answers. */
  write: boolean;
  /** Answers are IEEE 488.2 blocks. */
  binary: boolean;
  /** With `binary`: the block's bytes as they are, instead of JSON. */
  raw: boolean;
  /** With `binary`: how the block's bytes are numbers. */
  datatype: Datatype;
  /** With `binary`: little-endian (`FORM:BORD SWAP`) instead of SCPI's big-endian. */
  littleEndian: boolean;
  /** Deadline of each exchange, ms. */
  timeout: number;
  /** Read termination, when given. */
  readTerm?: string;
  /** Write termination, when given. */
  writeTerm?: string;
  /** Text encoding, when given. */
  encoding?: Encoding;
  /** Least time between commands, ms. */
  delay?: number;
  /** Commands sent ahead of their answers (`--window`), when given. */
  window?: number;
  /** Print answers as one JSON array. */
  json: boolean;
  /** `--config FILE`. */
  config?: string;
}

/** Parses `query`'s arguments (pure). */
export function parseQueryArgs(args: string[]): QueryOptions {
  const f = parseFlags(args, FLAGS, "query");
  // The demo bench has no message-based instrument: accepted, --demo made the demo's names
  // "unknown device (no config file found)", as if the bench were missing.
  if (boolFlag(f, "demo")) {
    throw new UsageError(
      "--demo has no instrument for query: it talks to SCPI and ASCII instruments",
      "start one: labwire sim keysight-34461a --listen 127.0.0.1:5025, then: " +
        "labwire query tcp://127.0.0.1:5025 '*IDN?'",
    );
  }
  const [target, ...commands] = f.positionals;
  if (target === undefined) {
    throw new UsageError(
      "give a TARGET and commands",
      "e.g. labwire query tcp://10.0.0.7:5025 '*IDN?'",
    );
  }
  const term = (flag: string): string | undefined => {
    const text = stringFlag(f, flag);
    if (text === undefined) return undefined;
    try {
      return parseTermination(text);
    } catch (err) {
      throw new UsageError(`--${flag}: ${(err as FramingError).message}`);
    }
  };
  const both = term("term");
  const encoding = stringFlag(f, "encoding");
  if (encoding !== undefined && !ENCODINGS.includes(encoding as Encoding)) {
    throw new UsageError(`--encoding ${encoding} is not known`, `use ${ENCODINGS.join(", ")}`);
  }
  const datatype = stringFlag(f, "datatype") ?? "u8";
  if (!DATATYPES.includes(datatype as Datatype)) {
    throw new UsageError(
      `--datatype ${datatype} is not known`,
      didYouMean(datatype, [...DATATYPES]) || `use one of ${DATATYPES.join(", ")}`,
    );
  }
  const binary = boolFlag(f, "binary");
  const raw = boolFlag(f, "raw");
  const write = boolFlag(f, "write");
  if ((raw || stringFlag(f, "datatype") !== undefined) && !binary) {
    throw new UsageError("--raw and --datatype go with --binary");
  }
  if (write && binary) throw new UsageError("--write sends without reading: no --binary with it");
  const timeout = stringFlag(f, "timeout");
  const delay = stringFlag(f, "delay");
  const window = stringFlag(f, "window");
  return {
    target,
    commands,
    write,
    binary,
    raw,
    datatype: datatype as Datatype,
    littleEndian: boolFlag(f, "little-endian"),
    timeout: timeout === undefined ? 2000 : parseDuration(timeout, "s", "--timeout"),
    readTerm: term("read-term") ?? both,
    writeTerm: term("write-term") ?? both,
    encoding: encoding as Encoding | undefined,
    delay: delay === undefined ? undefined : parseDuration(delay, "ms", "--delay"),
    window: window === undefined ? undefined : parseWindow(window, "--window"),
    json: boolFlag(f, "json"),
    config: stringFlag(f, "config"),
  };
}

/** Sends raw Modbus requests (`read holding 4096 2`), one JSON answer per line. */
async function runModbusQuery(
  opts: QueryOptions,
  commands: string[],
  target: NonNullable<QueryLine["modbus"]>,
  out: TextSink,
): Promise<number> {
  if (opts.binary || opts.write || opts.readTerm || opts.writeTerm || opts.encoding) {
    throw new UsageError(
      "--binary, --write, --term and --encoding are for message-based instruments",
      "Modbus requests are words: read holding 4096 2, write holding 4097 250",
    );
  }
  const { openModbusClient } = await import("../lib/drivers/modbus/client.ts");
  const { parseRawRequest, runRawRequest } = await import("../lib/drivers/modbus/raw.ts");
  const { modbusWindow } = await import("../lib/drivers/modbus/driver.ts");
  const requests = commands.map(parseRawRequest);
  const windowText = opts.window !== undefined
    ? String(opts.window)
    : target.address.params.get("window");
  const client = openModbusClient(target.address, {
    unit: target.unit,
    window: windowText === null ? undefined : modbusWindow(windowText, target.address),
    timeout: opts.timeout,
    serial: target.serial,
    port: target.port,
    device: opts.target,
    shared: false,
  });
  // One after another unless a window was asked for: a write then a read of the same register
  // must not depend on the device handling requests in flight in order.
  const ahead = windowText === null ? 1 : client.line.window;
  return await answerEach(requests, opts.json, out, () => client.close(), async (req, signal) => {
    const answer = await runRawRequest(client, req, { signal, timeout: opts.timeout });
    return { line: answer, value: answer === "ok" ? "ok" : JSON.parse(answer) };
  }, ahead);
}

/**
 * One answer as printed: a line of text, and the value `--json` collects; a string is both (a
 * text query's answer, the commonest: no object per answer).
 */
type Answer = string | {
  line: string;
  value: unknown;
};

/** Longest an answer waits in the stdout batch, ms. */
const ANSWER_BATCH_MS = 10;

/** Does nothing: marks a promise's rejection as handled (it is awaited later). */
const ignore = () => {};

/**
 * Runs `ask` for each item in order (Ctrl-C cancels the one in flight and ends with 130) and
 * prints each answer as it comes, or all as one JSON array with `json`; an undefined answer (a
 * write, raw bytes already written) prints nothing. With `ahead` > 1, up to that many items are
 * asked before the first of them is answered (a pipelined line sends them in one write; the
 * answers still print in order). `close` runs however it ends.
 */
async function answerEach<T>(
  items: readonly T[],
  json: boolean,
  out: TextSink,
  close: () => void,
  ask: (item: T, signal: AbortSignal) => Promise<Answer | undefined>,
  ahead = 1,
): Promise<number> {
  const interrupts = listenForInterrupts();
  const values: unknown[] = [];
  // Answers are printed in batches, not one write each: a round trip takes one event-loop turn,
  // so a batch flushed at the next timer turn held one answer, and a pipe write (with the
  // reader's wake-up) per answer cost about as much CPU as labwire's side of the round trip.
  // Within 10 ms of arriving, every answer is on stdout; all of them when the commands end.
  const sink = out === stdoutSink ? new BatchedSink(undefined, 64 * 1024, ANSWER_BATCH_MS) : out;
  const asked: Promise<Answer | undefined>[] = [];
  let next = 0;
  try {
    for (let i = 0; i < items.length; i++) {
      while (next < items.length && next < i + ahead) {
        const p = ask(items[next++]!, interrupts.signal);
        // Awaited in its turn below: failing before then is not an unhandled rejection.
        if (ahead > 1) p.catch(ignore);
        asked.push(p);
      }
      const answer = await asked.shift()!;
      if (answer === undefined) continue;
      if (typeof answer === "string") {
        if (json) values.push(answer);
        else sink.write(answer + "\n");
      } else if (json) values.push(answer.value);
      else sink.write(answer.line + "\n");
    }
    if (json) sink.write(JSON.stringify(values) + "\n");
    if (sink instanceof BatchedSink) sink.end();
    return EXIT.ok;
  } catch (err) {
    if (sink instanceof BatchedSink && !(err instanceof PipeClosed)) {
      // The answers before the failure still reach stdout; a closed pipe has nobody to tell.
      try {
        sink.end();
      } catch { /* the error below is what the user needs */ }
    }
    if (interrupts.received) return interrupts.exitCode();
    throw err;
  } finally {
    interrupts.dispose();
    close();
  }
}

/** Reads commands from stdin, one per line (blank lines skipped). */
async function stdinCommands(): Promise<string[]> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.split(/\r?\n/).filter((l) => l.trim() !== "");
}

/** Runs `query`, writing answers to `out` (stdout by default). */
export async function runQuery(args: string[], out: TextSink = stdoutSink): Promise<number> {
  const opts = parseQueryArgs(args);
  let commands = opts.commands;
  if (commands.length === 0) {
    if (Deno.stdin.isTerminal()) {
      throw new UsageError(
        "no commands: give them after TARGET, or one per line on stdin",
        "e.g. labwire query tcp://10.0.0.7:5025 '*IDN?' 'SYST:ERR?'",
      );
    }
    commands = await stdinCommands();
  }
  const resolved = await resolveQueryLine(opts.target, opts.config);
  if (resolved.note) console.error(`labwire query: note: ${resolved.note}`);
  if (resolved.modbus) return await runModbusQuery(opts, commands, resolved.modbus, out);
  const lineOptions: LineOptions = {
    ...resolved.options,
    timeout: opts.timeout,
    device: opts.target,
    ...(opts.readTerm !== undefined ? { readTermination: opts.readTerm } : {}),
    ...(opts.writeTerm !== undefined ? { writeTermination: opts.writeTerm } : {}),
    ...(opts.encoding !== undefined ? { encoding: opts.encoding } : {}),
    ...(opts.delay !== undefined ? { minDelay: opts.delay } : {}),
    ...(opts.window !== undefined ? { window: opts.window } : {}),
  };
  const line = openLine(resolved.address, { ...lineOptions, shared: false });
  let call: { signal: AbortSignal; timeout: number } | undefined;
  return await answerEach(commands, opts.json, out, () => line.close(), (cmd, signal) => {
    // One options object for every command (same signal, same deadline).
    if (call?.signal !== signal) call = { signal, timeout: opts.timeout };
    if (opts.write) return line.write(cmd, call).then(() => undefined);
    if (opts.binary) {
      return line.queryBlock(cmd, call).then((data) => {
        if (opts.raw) {
          writeRaw(out, data);
          return undefined;
        }
        const values = blockNumbers(data, opts);
        return { line: JSON.stringify(values), value: values };
      });
    }
    // A text answer as it is: no wrapper object or async frame per query.
    return line.query(cmd, call);
  }, line.window);
}

/** The numbers of a `--binary` answer; a size that does not fit `--datatype` is a usage error. */
function blockNumbers(data: Uint8Array, opts: QueryOptions): number[] {
  try {
    return decodeBlockData(data, opts.datatype, opts.littleEndian);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    throw new UsageError(
      err.message,
      "check --datatype against the instrument's data format (e.g. FORM REAL,32 → f32)",
    );
  }
}

/** Writes bytes to stdout as they are (`--raw`); a test sink gets them as latin1 text. */
function writeRaw(out: TextSink, data: Uint8Array): void {
  if (out !== stdoutSink) {
    out.write(String.fromCharCode(...data));
    return;
  }
  let rest = data;
  try {
    while (rest.length > 0) rest = rest.subarray(Deno.stdout.writeSync(rest));
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe) throw new PipeClosed({ cause: err });
    throw err;
  }
}

/** The `query` verb. */
export const queryCommand: Command = {
  name: "query",
  summary: "raw commands to a SCPI/ASCII instrument or Modbus requests, one answer per line",
  run: (args) => runQuery(args),
  help: `labwire query — raw commands to a message-based instrument, one answer per line

Usage: labwire query TARGET CMD… [--write] [--binary [--datatype f32] [--raw]]
                     [--timeout 2s] [--term CRLF]

Sends each CMD in order and prints its answer on its own line (the termination
removed), like lxi scpi or pyvisa's query. Without CMDs, the commands are read
from stdin, one per line. For the first minutes with a new instrument.

TARGET is one of:
  tcp://HOST:PORT               a raw socket (SCPI: 5025, Rigol 5555, Lake Shore 7777)
  scpi://HOST[:PORT]            a SCPI instrument on port 5025
  serial:///dev/ttyUSB0?baud=9600&bits=8&parity=none&stop=1&flow=none
  TCPIP0::HOST::PORT::SOCKET    VISA strings, as pyvisa users know them
  ASRL/dev/ttyUSB0::INSTR       (ASRL1::INSTR is /dev/ttyS0)
  ADDRESS?instrument=NAME       terminations and line settings from a definition
  NAME                          a device from the config (its definition's settings)
  modbus://HOST[:502]?unit=1    Modbus TCP, and modbus+rtu:///dev/ttyUSB0?baud=19200&
                                parity=even&unit=3 (RTU): CMDs are raw requests, below

Terminations default to "\\n" both ways (a "\\r" before the "\\n" of an answer is
removed, so CR LF instruments work too), or the instrument definition's.

Flags:
  -w, --write            send the commands without reading answers
  -b, --binary           answers are IEEE 488.2 blocks (#<n><len><data>, #0…):
                         each is printed as one JSON array of numbers
      --datatype TYPE    how the block's bytes are numbers: u8 (default), i8, u16,
                         i16, u32, i32, f32, f64
      --little-endian    for FORM:BORD SWAP (SCPI's default is big-endian)
      --raw              print the block's bytes as they are (for a file)
  -t, --timeout 2s       deadline of each exchange
      --term T           both terminations: LF, CR, CRLF, LFCR, NONE or escapes
                         (\\r\\n, \\xHH); another all-letters word is an error
      --read-term T      what ends answers
      --write-term T     what is appended to commands
      --encoding E       ascii (default), latin1 or utf-8
      --delay 50ms       least time between commands
      --window N         send up to N queries before reading their answers (TCP;
                         default 1, or the definition's window): several go out
                         in one write, answers still print in order. Only for an
                         instrument that answers every query in order; Modbus
                         TCP: requests in flight, matched by transaction id
                         (default: one at a time)
      --json             print the answers as one JSON array
  -c, --config FILE      config file, for device NAMEs

Modbus requests (ADDRESS is the 0-based PDU address: the manual's 40001 is
holding 0; TABLE is coil, discrete, input or holding):
  read TABLE ADDRESS [COUNT]      the registers (or bits) as they are: [225,250]
  read TABLE ADDRESS TYPE [ORDER] one value: TYPE int16, uint16, int32, uint32,
                                  float32 or float64; ORDER ABCD (default), CDAB,
                                  BADC or DCBA
  write TABLE ADDRESS VALUE…      holding: FC6 for one value, FC16 for several
                                  (negative values are int16); coil: FC5/FC15
                                  with true/false; prints ok
An exception answer names its meaning and address: "illegal data address at
holding register 4200 (read holding registers, exception 02)".

Exit codes: 0 every answer arrived; 1 the instrument did not answer (timeout,
refused, port missing); 2 a mistake on the command line.

Examples:
  labwire query tcp://10.0.0.7:5025 '*IDN?' 'SYST:ERR?'
  labwire query TCPIP0::10.0.0.7::5025::SOCKET '*IDN?'
  labwire query 'serial:///dev/ttyUSB0?baud=57600&bits=7&parity=odd' --term CRLF '*IDN?'
  labwire query 'serial:///dev/ttyUSB0?baud=19200' --term CR A
  labwire query tcp://10.0.0.7:5025 --write '*RST' 'CONF:VOLT:DC 10'
  labwire query tcp://10.0.0.7:5025 --write 'FORM REAL,32'
  labwire query tcp://10.0.0.7:5025 --binary --datatype f32 'TRAC:DATA?'
  seq 1000 | sed 's/.*/MEAS:VOLT:DC?/' | labwire query scpi://10.0.0.7 --window 8
  printf '*IDN?\\nSYST:ERR?\\n' | labwire query scpi://10.0.0.7
  labwire query 'modbus://10.0.0.9?unit=1' 'read holding 4096 2' 'write holding 4097 250'
  labwire query 'modbus+rtu:///dev/ttyUSB0?baud=19200&parity=even&unit=3' 'read coil 2068'
  labwire query modbus://10.0.0.20 'read holding 360 float32 CDAB'
`,
};
