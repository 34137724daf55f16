/**
 * The names of the serial line settings an address takes (`?baud=…&bits=…&parity=…&stop=…&flow=…`),
 * on their own so that checking a `modbus+rtu://` address' options does not load the serial
 * transport (`./serial.ts`, termios and the stream layer) at every start.
 *
 * @module
 */

/** The address options that are serial line settings. */
export const SERIAL_KEYS: readonly string[] = ["baud", "bits", "parity", "stop", "flow"];
