/**
 * A minimal HTTP/1.1 server for simulated instruments: a TCP listener, keep-alive connections
 * read into one buffer each, requests framed in place ({@linkcode scanRequest}) and answered
 * with bytes the caller prepared, in order, one at a time per connection.
 *
 * Why not `Deno.serve`: a simulator answers thousands of polls a second and `Deno.serve`
 * costs about 75 µs of CPU per answer (a Request, a Response, headers and body streams each
 * time), so on a small machine simulators of 10,000 gauges competed with the client under test.
 * An instrument's endpoint needs none of it: no TLS, no compression, no streaming bodies.
 *
 * @example
 * ```ts
 * import { HttpResponder, httpReply } from "./http_responder.ts";
 * const server = new HttpResponder("127.0.0.1", 0, () => httpReply(200, "text/plain", "hi\n"));
 * console.log(server.port); // e.g. 40123
 * await server.close();
 * ```
 *
 * @module
 */
import { MAX_REQUEST_BYTES, RequestFrame, scanRequest } from "./http_codec.ts";
import { BadAnswer } from "./http_framing.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reason phrases of the statuses a simulator sends. */
const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Content Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

let dateSecond = -1;
let dateBytes = new Uint8Array();

/**
 * The `date: …\r\n` header line of an answer sent now (RFC 9110 §6.6.1: an origin server with a
 * clock sends one), encoded once a second.
 *
 * @example
 * ```ts
 * import { dateLine } from "./http_responder.ts";
 * new TextDecoder().decode(dateLine()); // "date: Tue, 01 Dec 2026 16:20:00 GMT\r\n"
 * ```
 */
export function dateLine(): Uint8Array {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateBytes = encoder.encode(`date: ${new Date(now).toUTCString()}\r\n`);
  }
  return dateBytes;
}

/**
 * The bytes of a whole answer sent now: status line, `content-type`, `date`, `content-length`,
 * `extra` header lines (`name: value`), the body.
 *
 * @example
 * ```ts
 * import { httpReply } from "./http_responder.ts";
 * new TextDecoder().decode(httpReply(404, "text/plain", "no\n")).split("\r\n")[0]; // "HTTP/1.1 404 Not Found"
 * ```
 */
export function httpReply(
  status: number,
  contentType: string,
  body: string,
  extra: readonly string[] = [],
): Uint8Array {
  const payload = encoder.encode(body);
  const head = `HTTP/1.1 ${status} ${REASONS[status] ?? "Status"}\r\n` +
    `content-type: ${contentType}\r\n${decoder.decode(dateLine())}` +
    `content-length: ${payload.length}\r\n` +
    extra.map((h) => `${h}\r\n`).join("") + "\r\n";
  const h = encoder.encode(head);
  const all = new Uint8Array(h.length + payload.length);
  all.set(h);
  all.set(payload, h.length);
  return all;
}

/**
 * Answers one request: the bytes to send, a promise of them, or null to close the connection
 * without an answer. `bytes` holds the request (`req`'s ranges): read it before any `await`,
 * since the connection reuses its buffer.
 */
export type HttpHandler = (
  req: RequestFrame,
  bytes: Uint8Array,
) => Uint8Array | null | Promise<Uint8Array | null>;

/** Options of an {@linkcode HttpResponder}. */
export interface ResponderOptions {
  /** Called when accepting fails for another reason than the listener closing (e.g. EMFILE). */
  onAcceptError?: (err: unknown) => void;
}

const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
const BUFFER_SIZE = 1024;

/** One accepted connection; `busy` while its request is being answered (a held poll). */
interface Client {
  conn: Deno.TcpConn;
  busy: boolean;
}

/**
 * Serves HTTP/1.1 on `hostname:port` (0 = any free port) with `handler`. A malformed request
 * gets a 400 and the connection closes; requests a client pipelines are answered in order.
 * `pause()` stops listening (the port refuses connections, idle connections close) until
 * `resume()`.
 */
export class HttpResponder {
  /** The port served (kept across pause and resume). */
  readonly port: number;
  #listener: Deno.TcpListener | undefined;
  #clients = new Set<Client>();
  #closed = false;
  /** The accept loop of the current listener; ends once the listener is really closed. */
  #accepting: Promise<void>;

  /** Listens at once; throws Deno's error when the address cannot be listened on. */
  constructor(
    readonly hostname: string,
    port: number,
    readonly handler: HttpHandler,
    readonly options: ResponderOptions = {},
  ) {
    this.#listener = Deno.listen({ hostname, port, transport: "tcp" });
    this.port = this.#listener.addr.port;
    this.#accepting = this.#accept(this.#listener);
  }

  /** True while listening. */
  get listening(): boolean {
    return this.#listener !== undefined;
  }

  /**
   * Stops listening and closes connections that are not being answered; resolves once the port
   * refuses connections (Deno closes a listener after its pending accept is cancelled).
   */
  pause(): Promise<void> {
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.close();
    for (const c of this.#clients) if (!c.busy) closeQuietly(c.conn);
    return this.#accepting;
  }

  /** Listens again on the same port; throws when it is taken meanwhile. */
  resume(): void {
    if (this.#listener || this.#closed) return;
    this.#listener = Deno.listen({ hostname: this.hostname, port: this.port, transport: "tcp" });
    this.#accepting = this.#accept(this.#listener);
  }

  /**
   * Stops listening and closes every connection (answers being prepared are dropped); resolves
   * once the port is free again.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const paused = this.pause();
    for (const c of this.#clients) closeQuietly(c.conn);
    this.#clients.clear();
    await paused;
  }

  async #accept(listener: Deno.TcpListener): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#listener !== listener) return; // paused or closed
        // Out of descriptors (or another passing failure): say so, wait, accept again.
        this.options.onAcceptError?.(err);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.#listener !== listener) {
        closeQuietly(conn);
        return;
      }
      this.#serve(conn);
    }
  }

  async #serve(conn: Deno.TcpConn): Promise<void> {
    const client: Client = { conn, busy: false };
    this.#clients.add(client);
    const f = new RequestFrame();
    let buf = new Uint8Array(BUFFER_SIZE);
    let start = 0;
    let end = 0;
    let continued = false;
    try {
      conn.setNoDelay(true);
      for (;;) {
        let whole = false;
        try {
          whole = start < end && scanRequest(buf, start, end, f);
        } catch (err) {
          if (!(err instanceof BadAnswer)) throw err;
          await writeAll(conn, httpReply(400, "text/plain", `bad request: ${err.message}\n`));
          return;
        }
        if (!whole) {
          if (f.expectContinue && !continued && start < end) {
            continued = true;
            await writeAll(conn, CONTINUE);
          }
          if (start === end) start = end = 0;
          if (end === buf.length) {
            if (start > 0) {
              buf.copyWithin(0, start, end);
              end -= start;
              start = 0;
            } else if (buf.length >= MAX_REQUEST_BYTES + 16384) {
              await writeAll(conn, httpReply(413, "text/plain", "request too large\n"));
              return;
            } else {
              const next = new Uint8Array(buf.length * 4);
              next.set(buf);
              buf = next;
            }
          }
          const n = await conn.read(end === 0 ? buf : buf.subarray(end));
          if (n === null) return;
          end += n;
          continue;
        }
        start = f.used;
        continued = false;
        const head = f.methodEnd - f.methodStart === 4 && buf[f.methodStart] === 72 &&
          buf[f.methodStart + 1] === 69 && buf[f.methodStart + 2] === 65 &&
          buf[f.methodStart + 3] === 68;
        client.busy = true;
        const reply = this.handler(f, buf);
        const bytes = reply instanceof Promise ? await reply : reply;
        client.busy = false;
        if (bytes === null || this.#closed) return;
        // A HEAD request gets the answer's status and headers only.
        await writeAll(conn, head ? bytes.subarray(0, headerEnd(bytes)) : bytes);
        if (f.close || !this.#listener) return;
      }
    } catch {
      // The client went away or the connection was closed under us: nothing to answer.
    } finally {
      this.#clients.delete(client);
      closeQuietly(conn);
    }
  }
}

/** Where the header block of an answer's bytes ends (after its blank line). */
function headerEnd(b: Uint8Array): number {
  for (let i = b.indexOf(13); i >= 0 && i + 3 < b.length; i = b.indexOf(13, i + 1)) {
    if (b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i + 4;
  }
  return b.length;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = await conn.write(bytes);
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
