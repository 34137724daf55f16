/**
 * The process' limit on open file descriptors (`RLIMIT_NOFILE`), which bounds how many devices
 * one process can poll or simulate: every kept-alive device connection, every simulator's
 * listening socket and every client connected to it is a descriptor. Verbs that open many
 * check the limit at start, raise the soft limit to the hard one where allowed (as `ulimit -n
 * $(ulimit -Hn)` would), and say how many devices fit when they cannot have enough — instead
 * of failing later with "Too many open files (os error 24)" half-way through a run.
 *
 * The limit is read and raised with libc's `getrlimit`/`setrlimit` through FFI; without FFI
 * permission it is read from `/proc/self/limits` and left as it is.
 *
 * @module
 */

/** Descriptors kept for what is not a device: stdio, the runtime's own, files, the store. */
export const RESERVED_FDS = 64;

const RLIMIT_NOFILE = 7;
const UNLIMITED = 2 ** 64 - 1;

/** The soft (current) and hard (ceiling) limits; Infinity for unlimited. */
export interface FdLimit {
  /** What the process may open now. */
  soft: number;
  /** What the soft limit may be raised to without privileges. */
  hard: number;
}

const SYMBOLS = {
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
} as const;

function libc(): Deno.DynamicLibrary<typeof SYMBOLS> | undefined {
  try {
    return Deno.dlopen("libc.so.6", SYMBOLS);
  } catch {
    return undefined; // no FFI permission, or not glibc
  }
}

function fromRlim(v: bigint): number {
  return v >= BigInt(UNLIMITED) ? Infinity : Number(v);
}

/** Reads the limit (undefined when neither FFI nor /proc can tell). */
export function readFdLimit(): FdLimit | undefined {
  const lib = libc();
  if (lib) {
    try {
      const buf = new BigUint64Array(2);
      if (lib.symbols.getrlimit(RLIMIT_NOFILE, buf) === 0) {
        return { soft: fromRlim(buf[0]!), hard: fromRlim(buf[1]!) };
      }
    } finally {
      lib.close();
    }
  }
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(text);
    if (!m) return undefined;
    const n = (s: string) => s === "unlimited" ? Infinity : Number(s);
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return undefined;
  }
}

/**
 * Raises the soft limit to the hard one when it is lower (no privilege needed) and returns the
 * limit now in force; undefined when it cannot be read.
 *
 * @example
 * ```ts
 * import { raiseFdLimit } from "./fd_limit.ts";
 * raiseFdLimit(); // e.g. { soft: 20000, hard: 20000 }
 * ```
 */
export function raiseFdLimit(): FdLimit | undefined {
  const now = readFdLimit();
  if (!now || now.soft >= now.hard) return now;
  const lib = libc();
  if (!lib) return now;
  try {
    const hard = now.hard === Infinity ? BigInt(UNLIMITED) : BigInt(now.hard);
    if (lib.symbols.setrlimit(RLIMIT_NOFILE, new BigUint64Array([hard, hard])) !== 0) return now;
  } finally {
    lib.close();
  }
  return readFdLimit() ?? now;
}

/**
 * Why `wanted` devices do not fit, worded for the user, with what to do; `what` names them
 * ("gauges", "devices") and `each` says what each one holds open.
 *
 * @example
 * ```ts
 * import { tooManyFds } from "./fd_limit.ts";
 * tooManyFds(10_000, "gauges", "a listening socket and a client connection", 2, {
 *   limit: { soft: 20_000, hard: 20_000 },
 *   devices: 9_968,
 *   enough: false,
 * }).message; // "10000 gauges need about 20064 open files …; this process may open 20000 …"
 * ```
 */
export function tooManyFds(
  wanted: number,
  what: string,
  each: string,
  perDevice: number,
  budget: FdBudget,
): { message: string; hint: string } {
  const { soft, hard } = budget.limit;
  const processes = Math.ceil(wanted / Math.max(1, budget.devices));
  return {
    message:
      `${wanted} ${what} need about ${wanted * perDevice + RESERVED_FDS} open files (${each} ` +
      `each), but this process may open ${soft}${
        hard > soft ? "" : " (its hard limit)"
      }: at most ${budget.devices} ${what} fit in one process`,
    hint: `split them over ${processes} processes of at most ${budget.devices} ${what}, or raise ` +
      `the hard limit (ulimit -Hn as root, or LimitNOFILE= in a systemd unit)`,
  };
}

/** What fits under the limit: how many devices, each using `perDevice` descriptors. */
export interface FdBudget {
  /** The limit in force after raising it. */
  limit: FdLimit;
  /** How many devices fit (Infinity when unlimited). */
  devices: number;
  /** Whether `wanted` devices fit. */
  enough: boolean;
}

/** Descriptors every Linux process may open (the usual default soft limit). */
const SURELY_ALLOWED = 1024;

/**
 * Raises the limit as far as allowed and says whether `wanted` devices of `perDevice`
 * descriptors each fit beside {@linkcode RESERVED_FDS}; undefined when they surely fit (within
 * 1,024 descriptors, nothing is looked up) or the limit is unknown.
 *
 * @example
 * ```ts
 * import { fdBudget } from "./fd_limit.ts";
 * const b = fdBudget(10_000, 2); // a simulator: a listener and a connection per gauge
 * if (b && !b.enough) console.error(`only ${b.devices} gauges fit`);
 * ```
 */
export function fdBudget(wanted: number, perDevice: number): FdBudget | undefined {
  if (wanted * perDevice + RESERVED_FDS <= SURELY_ALLOWED) return undefined;
  const limit = raiseFdLimit();
  if (!limit) return undefined;
  const devices = limit.soft === Infinity
    ? Infinity
    : Math.max(0, Math.floor((limit.soft - RESERVED_FDS) / perDevice));
  return { limit, devices, enough: wanted <= devices };
}
