/**
 * Writing data to stdout under the output contract: a closed pipe (`labwire stream | head -3`)
 * becomes a {@linkcode PipeClosed} error that `main.ts` turns into a quiet exit 0. Writing in
 * batches (`stream`, `query`) is `./batched_sink.ts`: a verb that writes one document (`read`)
 * loads neither it nor the timers it rides on.
 *
 * @module
 */
/** Thrown when the reader of stdout has gone away; not a failure of labwire. */
export class PipeClosed extends Error {
  /** Creates the error. */
  constructor(options?: ErrorOptions) {
    super("stdout closed", options);
    this.name = "PipeClosed";
  }
}

const encoder = new TextEncoder();

/** The sink data is written to: stdout normally, an array in tests. */
export interface TextSink {
  /** Writes text; throws {@linkcode PipeClosed} when the reader is gone. */
  write(text: string): void;
}

/** Writes all of `text` to stdout synchronously, mapping a broken pipe to {@linkcode PipeClosed}. */
export function writeStdout(text: string): void {
  writeStdoutBytes(encoder.encode(text));
}

/** Writes all of `bytes` to stdout synchronously, mapping a broken pipe to {@linkcode PipeClosed}. */
export function writeStdoutBytes(bytes: Uint8Array): void {
  try {
    while (bytes.length > 0) {
      const n = Deno.stdout.writeSync(bytes);
      bytes = bytes.subarray(n);
    }
  } catch (err) {
    if (err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset) {
      throw new PipeClosed({ cause: err });
    }
    throw err;
  }
}

/** The process' stdout as a {@linkcode TextSink}. */
export const stdoutSink: TextSink = { write: writeStdout };

/** A sink that collects text in memory, for tests. */
export class MemorySink implements TextSink {
  /** Everything written so far. */
  text = "";
  /** Appends text. */
  write(text: string): void {
    this.text += text;
  }
}
