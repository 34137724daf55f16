/**
 * A small scriptable Channel Access server for unit tests of the client and the `ca://` driver,
 * built on `protocol.ts`: it answers searches, creates channels, serves reads, writes and
 * monitors from an in-memory table, and lets a test misbehave on purpose (ignore searches or
 * ECHO, delay write completion, drop circuits). Not used by the program itself.
 *
 * @module
 */
import dgram from "node:dgram";
import { CaClient } from "./client.ts";
import type { CaClientOptions } from "./client_env.ts";
import { decodeDatagram, MessageDecoder } from "./framing.ts";
import { type CaMessage, CMD } from "./messages.ts";
import { decodeMessage, encodeMessage } from "./protocol.ts";
import { type DbrData, decodeDbr, encodeDbr } from "./dbr.ts";
import { DBR } from "./dbr_types.ts";
import { ECA } from "./eca.ts";

/** One PV of a {@linkcode FakeServer}. */
export interface FakePv {
  native: number;
  data: DbrData;
  write: boolean;
  /** Read access (default true). */
  read?: boolean;
  /** The ECA status its reads answer with (default ECA_NORMAL), e.g. a record that fails. */
  readStatus?: number;
}

/** A minimal CA server built on protocol.ts, scriptable from the tests. */
export class FakeServer {
  readonly pvs = new Map<string, FakePv>();
  readonly searchDatagrams: Uint8Array[] = [];
  readonly searched: string[] = [];
  readonly received: CaMessage[] = [];
  /** Return false to leave a search unanswered. */
  answer: (name: string, attempt: number) => boolean = () => true;
  replyEcho = true;
  /** Milliseconds before a WRITE_NOTIFY is reported complete (a slow record, a moving motor). */
  notifyDelayMs = 0;
  connections = 0;
  #udp = dgram.createSocket("udp4");
  #tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  #conns = new Set<Deno.Conn>();
  #subs = new Map<number, { conn: Deno.Conn; name: string; type: number }>();
  #tasks: Promise<void>[] = [];
  udpPort = 0;

  /** Binds the UDP and TCP sockets on 127.0.0.1. */
  async start(): Promise<void> {
    await new Promise<void>((r) => this.#udp.bind(0, "127.0.0.1", r));
    this.udpPort = this.#udp.address().port;
    this.#udp.on("message", (msg: Uint8Array, rinfo: { address: string; port: number }) => {
      const bytes = new Uint8Array(msg);
      this.searchDatagrams.push(bytes);
      for (const raw of decodeDatagram(bytes)) {
        const m = decodeMessage(raw, "to_server");
        if (m.kind !== "search") continue;
        this.searched.push(m.name);
        const attempt = this.searched.filter((n) => n === m.name).length;
        if (!this.pvs.has(m.name) || !this.answer(m.name, attempt)) continue;
        const port = (this.#tcp.addr as Deno.NetAddr).port;
        const reply = encodeMessage({
          kind: "search_resp",
          port,
          ip: 0xffffffff,
          cid: m.cid,
          minor: 13,
        });
        this.#udp.send(reply, rinfo.port, rinfo.address);
      }
    });
    this.#tasks.push(this.#accept());
  }

  async #accept(): Promise<void> {
    for await (const conn of this.#tcp) {
      this.connections++;
      this.#conns.add(conn);
      this.#tasks.push(this.#serve(conn));
    }
  }

  async #serve(conn: Deno.Conn): Promise<void> {
    const send = (m: CaMessage) => conn.write(encodeMessage(m)).catch(() => 0);
    await send({ kind: "version", priority: 0, minor: 13 });
    const decoder = new MessageDecoder();
    const names: string[] = [];
    try {
      for await (const chunk of conn.readable) {
        for (const raw of decoder.push(chunk)) {
          const m = decodeMessage(raw, "to_server");
          this.received.push(m);
          await this.#handle(conn, m, names, send);
        }
      }
    } catch {
      // connection dropped by a test
    }
    this.#conns.delete(conn);
  }

  async #handle(
    conn: Deno.Conn,
    m: CaMessage,
    names: string[],
    send: (m: CaMessage) => Promise<number>,
  ): Promise<void> {
    const pvOf = (sid: number) => this.pvs.get(names[sid] ?? "");
    switch (m.kind) {
      case "create_chan": {
        const pv = this.pvs.get(m.name);
        if (!pv) return void await send({ kind: "create_ch_fail", cid: m.cid });
        names.push(m.name);
        await send({
          kind: "access_rights",
          cid: m.cid,
          read: pv.read ?? true,
          write: pv.write,
        });
        await send({
          kind: "create_chan_resp",
          nativeType: pv.native,
          nativeCount: pv.data.value.length,
          cid: m.cid,
          sid: names.length - 1,
        });
        return;
      }
      case "read_notify": {
        const pv = pvOf(m.sid)!;
        if (m.dbrType === DBR.CLASS_NAME) {
          return void await send({
            kind: "error",
            cid: 0,
            status: ECA.BADTYPE,
            request: {
              command: CMD.READ_NOTIFY,
              payloadSize: 0,
              dataType: m.dbrType,
              dataCount: 1,
              p1: m.sid,
              p2: m.ioid,
            },
            message: "bad type",
          });
        }
        return void await send({
          kind: "read_notify_resp",
          dbrType: m.dbrType,
          count: pv.data.value.length,
          status: pv.readStatus ?? ECA.NORMAL,
          ioid: m.ioid,
          payload: encodeDbr(m.dbrType, pv.data),
        });
      }
      case "write_notify":
      case "write": {
        const name = names[m.sid]!;
        const pv = this.pvs.get(name)!;
        // Convert to the PV's native type as a real server does (enum states by name).
        const written = decodeDbr(m.dbrType, m.count, m.payload).value as (number | string)[];
        const value = pv.native === DBR.STRING
          ? written.map(String)
          : written.map((v) =>
            typeof v === "string" && pv.native === DBR.ENUM
              ? (pv.data.enumStrings ?? []).indexOf(v)
              : Number(v)
          );
        pv.data = { ...pv.data, value };
        if (m.kind === "write_notify") {
          if (this.notifyDelayMs > 0) await new Promise((r) => setTimeout(r, this.notifyDelayMs));
          await send({
            kind: "write_notify_resp",
            dbrType: m.dbrType,
            count: m.count,
            status: ECA.NORMAL,
            ioid: m.ioid,
          });
        }
        for (const [subid, s] of this.#subs) if (s.name === name) await this.#post(subid);
        return;
      }
      case "event_add":
        this.#subs.set(m.subid, { conn, name: names[m.sid]!, type: m.dbrType });
        return void await this.#post(m.subid);
      case "event_cancel":
        this.#subs.delete(m.subid);
        return void await send({
          kind: "event_add_resp",
          dbrType: m.dbrType,
          count: m.count,
          status: ECA.NORMAL,
          subid: m.subid,
          payload: new Uint8Array(),
        });
      case "echo":
        if (this.replyEcho) await send({ kind: "echo" });
        return;
      case "clear_channel":
        return void await send(m);
      default:
        return;
    }
  }

  async #post(subid: number): Promise<void> {
    const s = this.#subs.get(subid);
    if (!s) return;
    const pv = this.pvs.get(s.name)!;
    await s.conn.write(encodeMessage({
      kind: "event_add_resp",
      dbrType: s.type,
      count: pv.data.value.length,
      status: ECA.NORMAL,
      subid,
      payload: encodeDbr(s.type, pv.data),
    })).catch(() => 0);
  }

  /** Sends a message to every client connection. */
  async broadcast(m: CaMessage): Promise<void> {
    for (const c of this.#conns) await c.write(encodeMessage(m)).catch(() => 0);
  }

  /** Drops every client connection (a server crash, as the client sees it). */
  dropAll(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#subs.clear();
  }

  /** A client that searches only this server. */
  client(extra: CaClientOptions = {}): CaClient {
    return new CaClient({
      addrList: ["127.0.0.1"],
      autoAddrList: false,
      serverPort: this.udpPort,
      repeaterPort: 0,
      ...extra,
    });
  }

  /** Closes every socket. */
  async close(): Promise<void> {
    this.dropAll();
    this.#tcp.close();
    await new Promise<void>((r) => this.#udp.close(() => r()));
    await Promise.allSettled(this.#tasks);
  }
}

/** Declares a PV: native type, value array, write access. */
export function pv(native: number, value: number[] | string[], write = true): FakePv {
  return { native, data: { value, status: 0, severity: 0, units: "mm", precision: 2 }, write };
}

/**
 * Declares one PV of each shape the `ca://` value mapping tells apart: MBBO (an enum with states
 * Idle/Run/Stop, at Run), LONG (42), STR ("text"), WAVE (a FLOAT waveform 1, 2, 3) and DESC$ (a
 * CHAR waveform holding "hi").
 */
export function addShapes(fake: FakeServer): void {
  const mbbo = pv(DBR.ENUM, [1]);
  mbbo.data.enumStrings = ["Idle", "Run", "Stop"];
  fake.pvs.set("MBBO", mbbo);
  fake.pvs.set("LONG", pv(DBR.LONG, [42]));
  fake.pvs.set("STR", pv(DBR.STRING, ["text"]));
  fake.pvs.set("WAVE", pv(DBR.FLOAT, [1, 2, 3]));
  fake.pvs.set("DESC$", pv(DBR.CHAR, [104, 105, 0, 0, 0, 0, 0, 0]));
}
