/**
 * One {@linkcode MessageLine} per port, shared by every device on it (Alicat units A–Z on one
 * RS-485 bus): a registry keyed by port, counting its users, that refuses a second user asking
 * for other line settings. The line itself keeps exchanges from interleaving.
 *
 * @module
 */
import { DeviceError } from "../device/errors.ts";
import type { MessageLine } from "./message.ts";

const shared = new Map<string, { line: MessageLine; settings: string }>();

/**
 * The one {@linkcode MessageLine} of a port, shared by every device on it: the first caller's
 * `create()` makes it, later callers with the same `key` (e.g. `serial:///dev/ttyUSB0`) get the
 * same line, counted; each calls `close()` once. Callers asking for different `settings` (baud,
 * terminations) on the same port get a {@linkcode DeviceError} naming both.
 *
 * @example
 * ```ts ignore
 * const a = sharedLine("serial:///dev/ttyUSB0", "19200 8N1 \\r", () => new MessageLine(...));
 * const b = sharedLine("serial:///dev/ttyUSB0", "19200 8N1 \\r", () => new MessageLine(...));
 * a === b; // true
 * ```
 */
export function sharedLine(
  key: string,
  settings: string,
  create: () => MessageLine,
): MessageLine {
  const have = shared.get(key);
  if (have && !have.line.closed) {
    if (have.settings !== settings) {
      throw new DeviceError(
        `${key} is already open with other settings (${have.settings}, now asked for ` +
          `${settings}); devices sharing a line must use the same baud rate, framing and ` +
          `terminations`,
      );
    }
    return have.line.retain();
  }
  const line = create();
  shared.set(key, { line, settings });
  line.retain(() => {
    if (shared.get(key)?.line === line) shared.delete(key);
  });
  // retain() counted one more user than the creator: give it back.
  line.close();
  return line;
}
