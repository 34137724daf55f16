/**
 * Clean interruption for long-running verbs: the first SIGINT (Ctrl-C) or SIGTERM aborts a
 * signal so the verb can finish what it is doing, flush and return; a second SIGINT exits at
 * once with 130.
 *
 * @module
 */

/** The interrupt state of a running verb. */
export interface Interrupts {
  /** Aborts on the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** Which signal arrived first, if any. */
  readonly received: "SIGINT" | "SIGTERM" | undefined;
  /** The exit code the verb should return when interrupted: 130 for SIGINT, 0 for SIGTERM. */
  exitCode(): number;
  /** Removes the signal listeners (so the process can exit). */
  dispose(): void;
}

/** Options of {@linkcode listenForInterrupts}. */
export interface InterruptOptions {
  /** Exit immediately with 130 on the second SIGINT (default true). */
  secondExits?: boolean;
  /** Called on the first interrupt, e.g. to print "finishing the current point…" on stderr. */
  onFirst?: (signal: "SIGINT" | "SIGTERM") => void;
  /** Called on the second SIGINT instead of exiting, when `secondExits` is false. */
  onSecond?: () => void;
}

/** Starts listening for SIGINT/SIGTERM; call `dispose()` when the verb ends. */
export function listenForInterrupts(options: InterruptOptions = {}): Interrupts {
  const controller = new AbortController();
  let received: "SIGINT" | "SIGTERM" | undefined;
  const secondExits = options.secondExits ?? true;
  const onSignal = (sig: "SIGINT" | "SIGTERM") => () => {
    if (received === undefined) {
      received = sig;
      options.onFirst?.(sig);
      controller.abort(new Error(`interrupted by ${sig}`));
      return;
    }
    if (sig === "SIGINT") {
      if (secondExits) Deno.exit(130);
      options.onSecond?.();
    }
  };
  const onInt = onSignal("SIGINT");
  const onTerm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    exitCode: () => (received === "SIGINT" ? 130 : 0),
    dispose: () => {
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
    },
  };
}
