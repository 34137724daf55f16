/**
 * Reads and writes of a TCP connection straight through the runtime's own operations, for the
 * hot path of a client that polls thousands of devices.
 *
 * Why: on Deno 2.9.6 `Conn.read` is an async function around the read operation that adds the
 * operation's promise to a `Set` of pending reads and deletes it again, and `Conn.write` an async
 * function around the write operation; per poll that is two more promises, an async frame and a
 * `Set` entry — ~0.9 KB of garbage of the ~3 KB a poll of 1,000 gauges at 2 Hz allocated
 * (`--trace-gc-nvp`). The operations themselves (`core.read`, `core.write` on the connection's
 * resource id) are what those methods await, so the bytes, errors and end of stream are the
 * same. They are internal to the runtime: where they are missing (another runtime version, a
 * connection that is not the runtime's own, as in tests), the connection's public methods are
 * used instead. One thing the wrappers did is lost: `conn.unref()` and `conn.ref()` reach only
 * reads made through `conn.read` (its `Set`), so a connection read here must not count on them.
 *
 * @module
 */

/** The runtime operations used here, when the runtime has them. */
interface CoreOps {
  read(rid: number, buf: Uint8Array): Promise<number>;
  write(rid: number, buf: Uint8Array): Promise<number>;
  internalRidSymbol: symbol;
}

function findCore(): CoreOps | undefined {
  try {
    const internal = (Deno as unknown as Record<symbol, unknown>)[
      (Deno as unknown as { internal: symbol }).internal
    ] as { core?: Partial<CoreOps> } | undefined;
    const core = internal?.core;
    if (
      typeof core?.read === "function" && typeof core.write === "function" &&
      typeof core.internalRidSymbol === "symbol"
    ) return core as CoreOps;
  } catch {
    // No internals on this runtime: the public methods are used.
  }
  return undefined;
}

const CORE = findCore();

/**
 * A connection's reads and writes: through the runtime's operations on its resource id when
 * available, else through `conn.read`/`conn.write`. A read resolves to the number of bytes read,
 * `0` at the end of the stream (the operation's own convention; `Conn.read`'s `null` is mapped
 * to it only on the fallback path, which is not the hot one).
 *
 * @example
 * ```ts ignore
 * import { SocketOps } from "./socket_ops.ts";
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 80 });
 * const io = new SocketOps(conn);
 * await io.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
 * const n = await io.read(new Uint8Array(1024)); // 0 at the end of the stream
 * ```
 */
export class SocketOps {
  /** The connection's resource id, when its reads and writes go through the runtime directly. */
  readonly rid: number | undefined;

  /** Wraps `conn`, finding its resource id if the runtime exposes its operations. */
  constructor(readonly conn: Deno.Conn) {
    const rid = CORE
      ? (conn as unknown as Record<symbol, unknown>)[CORE.internalRidSymbol]
      : undefined;
    this.rid = typeof rid === "number" ? rid : undefined;
  }

  /** True when reads and writes skip the connection's wrappers. */
  get direct(): boolean {
    return this.rid !== undefined;
  }

  /** Reads into `buf` (not empty); resolves to the bytes read, 0 at the end of the stream. */
  read(buf: Uint8Array): Promise<number> {
    if (this.rid !== undefined) return CORE!.read(this.rid, buf);
    return this.conn.read(buf).then(orZero);
  }

  /** Writes (part of) `buf`; resolves to the bytes written. */
  write(buf: Uint8Array): Promise<number> {
    if (this.rid !== undefined) return CORE!.write(this.rid, buf);
    return this.conn.write(buf);
  }
}

function orZero(n: number | null): number {
  return n ?? 0;
}
