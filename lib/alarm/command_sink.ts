/**
 * The `command` sink: runs a program (directly, no shell) for each alarm event, with the event
 * as one JSON document on stdin and the main fields in `LABWIRE_ALARM_*` environment variables
 * for simple scripts. A non-zero exit is a failed delivery (retried). Its stdout is discarded so
 * labwire's stdout stays data only; the first line of its stderr goes into the failure message.
 *
 * @module
 */
import type { AlarmEvent } from "./event.ts";
import { alarmPayload } from "./payload.ts";

/**
 * Returns a deliver function running `argv` once per event.
 *
 * @example
 * ```ts ignore
 * import { commandSink } from "./command_sink.ts";
 * const deliver = commandSink(["logger", "-t", "labwire"]);
 * ```
 */
export function commandSink(
  argv: readonly string[],
): (events: AlarmEvent[], signal: AbortSignal) => Promise<void> {
  const [program, ...args] = argv;
  if (!program) throw new TypeError("commandSink: empty command");
  return async (events, signal) => {
    for (const event of events) {
      const child = new Deno.Command(program, {
        args,
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
        signal,
        env: {
          LABWIRE_ALARM_NAME: event.name,
          LABWIRE_ALARM_SEVERITY: event.severity,
          LABWIRE_ALARM_STATE: event.state,
          LABWIRE_ALARM_DEVICE: event.device,
          LABWIRE_ALARM_MESSAGE: event.message,
        },
      }).spawn();
      const writer = child.stdin.getWriter();
      try {
        await writer.write(new TextEncoder().encode(JSON.stringify(alarmPayload(event)) + "\n"));
        await writer.close();
      } catch {
        // The program may exit without reading stdin; its exit status decides.
      }
      const out = await child.output();
      if (!out.success) {
        const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0] ?? "";
        throw new Error(
          `${program} exited with ${out.signal ?? `code ${out.code}`}${why ? `: ${why}` : ""}`,
        );
      }
    }
  };
}
