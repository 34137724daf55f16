/**
 * A bare CA client for the server's tests, written on the shared protocol module only, so the
 * tests see exactly what the server sends (the `ca://` client hides the protocol).
 *
 * @module
 */
import { concatBytes, MessageDecoder } from "../../drivers/epics/framing.ts";
import { type CaMessage } from "../../drivers/epics/messages.ts";
import { DBR } from "../../drivers/epics/dbr_types.ts";
import { decodeMessage, encodeMessage } from "../../drivers/epics/protocol.ts";

/** A bare CA client on the shared protocol module, to see exactly what the server sends. */
export class RawClient {
  readonly #inbox: CaMessage[] = [];
  #wake: (() => void) | undefined;
  readonly #reading: Promise<void>;
  /** While set, the client stops reading its socket (a slow client). */
  paused: Promise<void> | undefined;

  private constructor(readonly conn: Deno.TcpConn) {
    this.#reading = this.#read();
  }

  static async connect(port: number): Promise<RawClient> {
    const c = new RawClient(await Deno.connect({ hostname: "127.0.0.1", port }));
    c.send(
      { kind: "version", priority: 0, minor: 13 },
      { kind: "client_name", name: "tester" },
      { kind: "host_name", name: "localhost" },
    );
    return c;
  }

  async #read(): Promise<void> {
    const decoder = new MessageDecoder();
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        if (this.paused) await this.paused;
        const n = await this.conn.read(buf);
        if (n === null) break;
        for (const raw of decoder.push(buf.slice(0, n))) {
          this.#inbox.push(decodeMessage(raw, "to_client"));
        }
        this.#wake?.();
      }
    } catch { /* closed */ }
    this.#wake?.();
  }

  send(...msgs: CaMessage[]): void {
    const bytes = concatBytes(msgs.map(encodeMessage));
    this.conn.write(bytes);
  }

  /** Sends a write_notify of `text` as a DBR_STRING (NUL-padded to a multiple of 8 bytes). */
  writeString(sid: number, ioid: number, text: string): void {
    const bytes = new TextEncoder().encode(text);
    const payload = new Uint8Array(Math.ceil((bytes.length + 1) / 8) * 8);
    payload.set(bytes);
    this.send({ kind: "write_notify", dbrType: DBR.STRING, count: 1, sid, ioid, payload });
  }

  /** Waits for (and removes) the first message matching `pred`. */
  async next<K extends CaMessage["kind"]>(
    kind: K,
    pred: (m: Extract<CaMessage, { kind: K }>) => boolean = () => true,
  ): Promise<Extract<CaMessage, { kind: K }>> {
    const deadline = Date.now() + 5000;
    while (true) {
      const i = this.#inbox.findIndex((m) =>
        m.kind === kind && pred(m as Extract<CaMessage, { kind: K }>)
      );
      if (i >= 0) return this.#inbox.splice(i, 1)[0] as Extract<CaMessage, { kind: K }>;
      if (Date.now() > deadline) throw new Error(`no ${kind} message within 5 s`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, 100);
      });
      clearTimeout(timer);
    }
  }

  /** Messages of `kind` received so far (removed). */
  drain(kind: CaMessage["kind"]): CaMessage[] {
    const out = this.#inbox.filter((m) => m.kind === kind);
    for (const m of out) this.#inbox.splice(this.#inbox.indexOf(m), 1);
    return out;
  }

  /** Creates a channel; returns its sid, write access and native type. */
  async open(cid: number, name: string) {
    this.send({ kind: "create_chan", cid, minor: 13, name });
    const rights = await this.next("access_rights", (m) => m.cid === cid);
    const resp = await this.next("create_chan_resp", (m) => m.cid === cid);
    return { sid: resp.sid, write: rights.write, native: resp.nativeType, count: resp.nativeCount };
  }

  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch { /* closed */ }
    await this.#reading;
  }
}
