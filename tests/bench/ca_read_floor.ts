/**
 * The floor under `ca-read-many` (`./ca_read_many.ts`), timed beside it: what a Deno process
 * costs before and around labwire's own code.
 *
 * - `--start-only`: Deno starts and exits (its runtime start, nothing of labwire).
 * - `--bare PV…`: the whole exchange written out with nothing of labwire — one set of search
 *   datagrams, one circuit, every CREATE_CHAN in one write, every READ_NOTIFY (DBR_TIME_DOUBLE) in
 *   one write, replies scanned in one loop and printed as one JSON document: the least a Deno
 *   process does to read the PVs (it assumes what the bench holds: one server, doubles).
 * - otherwise: labwire's batch CA reader alone (`lib/drivers/epics/client_batch.ts`, no CLI,
 *   config or output layer) reads each PV named on the command line and prints one JSON document
 *   of `{t, device, value, severity, status}` per PV, as `labwire read` does.
 *
 * Modules are imported by a computed URL so that the other modes do not make Deno read them (it
 * follows literal imports, dynamic ones included, before running).
 *
 * Run: `deno run -A tests/bench/ca_read_floor.ts [--start-only | --bare] PV…` with the
 * EPICS_CA_* settings of the IOC in the environment.
 *
 * @module
 */

if (Deno.args[0] === "--start-only") Deno.exit(0);

/** Writes one message header (big-endian, 16 bytes) at `at`. */
function header(
  v: DataView,
  at: number,
  command: number,
  size: number,
  type: number,
  count: number,
  p1: number,
  p2: number,
): void {
  v.setUint16(at, command);
  v.setUint16(at + 2, size);
  v.setUint16(at + 4, type);
  v.setUint16(at + 6, count);
  v.setUint32(at + 8, p1);
  v.setUint32(at + 12, p2);
}

/** Reads the PVs with nothing but Deno's sockets (see the module doc). */
async function bare(names: readonly string[]): Promise<void> {
  const n = names.length;
  const port = Number(Deno.env.get("EPICS_CA_SERVER_PORT") ?? 5064);
  const enc = new TextEncoder();
  const bytes = names.map((s) => enc.encode(s));
  const pad = (len: number) => (len + 8) & ~7; // NUL-terminated, padded to 8
  const udp = (Deno as unknown as {
    listenDatagram(o: { transport: "udp"; hostname: string; port: number }): {
      send(d: Uint8Array, a: { transport: "udp"; hostname: string; port: number }): Promise<number>;
      receive(b: Uint8Array): Promise<[Uint8Array, unknown]>;
      close(): void;
    };
  }).listenDatagram({ transport: "udp", hostname: "0.0.0.0", port: 0 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  let dg = new Uint8Array(1024);
  let dv = new DataView(dg.buffer);
  let at = 16;
  header(dv, 0, 0, 0, 1, 13, 1, 0);
  for (let i = 0; i < n; i++) {
    const size = pad(bytes[i]!.length);
    if (at + 16 + size > 1024) {
      await udp.send(dg.subarray(0, at), to);
      dg = new Uint8Array(1024);
      dv = new DataView(dg.buffer);
      header(dv, 0, 0, 0, 1, 13, 1, 0);
      at = 16;
    }
    header(dv, at, 6, size, 5, 13, i + 1, i + 1);
    dg.set(bytes[i]!, at + 16);
    at += 16 + size;
  }
  await udp.send(dg.subarray(0, at), to);
  let found = 0;
  let tcpPort = 0;
  const rx = new Uint8Array(65536);
  while (found < n) {
    const [d] = await udp.receive(rx);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    for (let o = 0; o + 16 <= d.length; o += 16 + v.getUint16(o + 2)) {
      if (v.getUint16(o) === 6) {
        tcpPort = v.getUint16(o + 4);
        found++;
      }
    }
  }
  udp.close();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcpPort });
  let size = 16 + 24 + 24;
  for (const b of bytes) size += 16 + pad(b.length);
  const out = new Uint8Array(size);
  const ov = new DataView(out.buffer);
  header(ov, 0, 0, 0, 0, 13, 0, 0);
  header(ov, 16, 20, 8, 0, 0, 0, 0);
  out.set(enc.encode("bench"), 32);
  header(ov, 40, 21, 8, 0, 0, 0, 0);
  out.set(enc.encode("bench"), 56);
  at = 64;
  for (let i = 0; i < n; i++) {
    const s = pad(bytes[i]!.length);
    header(ov, at, 18, s, 0, 0, i + 1, 13);
    out.set(bytes[i]!, at + 16);
    at += 16 + s;
  }
  await conn.write(out);
  const sids = new Uint32Array(n);
  const doc: string[] = new Array(n);
  let buf = new Uint8Array(1 << 18);
  let have = 0;
  let created = 0;
  let read = 0;
  const t = Date.now() / 1000;
  const severity = ["NO_ALARM", "MINOR", "MAJOR", "INVALID"];
  while (read < n) {
    if (have === buf.length) {
      const grown = new Uint8Array(buf.length * 2);
      grown.set(buf);
      buf = grown;
    }
    const got = await conn.read(buf.subarray(have));
    if (got === null) throw new Error("the IOC closed the circuit");
    have += got;
    const v = new DataView(buf.buffer);
    let o = 0;
    const before = created;
    for (; o + 16 <= have && o + 16 + v.getUint16(o + 2) <= have; o += 16 + v.getUint16(o + 2)) {
      const cmd = v.getUint16(o);
      if (cmd === 18) {
        sids[v.getUint32(o + 8) - 1] = v.getUint32(o + 12);
        created++;
      } else if (cmd === 15) {
        const i = v.getUint32(o + 12) - 1;
        const name = JSON.stringify(names[i]);
        doc[i] = `${name}:{"t":${t},"device":${name},"value":${v.getFloat64(o + 32)},` +
          `"severity":"${severity[v.getInt16(o + 18)]}","status":"NO_ALARM"}`;
        read++;
      }
    }
    buf.copyWithin(0, o, have);
    have -= o;
    if (created === n && before < n) {
      const reads = new Uint8Array(16 * n);
      const rv = new DataView(reads.buffer);
      for (let i = 0; i < n; i++) header(rv, i * 16, 15, 0, 20, 0, sids[i]!, i + 1);
      await conn.write(reads);
    }
  }
  conn.close();
  Deno.stdout.writeSync(enc.encode(`{${doc.join(",")}}\n`));
}

if (Deno.args[0] === "--bare") {
  await bare(Deno.args.slice(1));
  Deno.exit(0);
}

const here = (path: string) => new URL(path, import.meta.url).href;
const { readPvs } = await import(
  here("../../lib/drivers/epics/client_batch.ts")
) as typeof import("../../lib/drivers/epics/client_batch.ts");
const { parseAddress } = await import(
  here("../../lib/device/address.ts")
) as typeof import("../../lib/device/address.ts");

const t = Date.now() / 1000;
const targets = Deno.args.map((pv) => ({ name: pv, address: parseAddress(`ca://${pv}`) }));
const got = await readPvs(targets, { defaultTimeout: 5000 });
const doc: Record<string, unknown> = {};
got.forEach((r, i) => {
  const pv = Deno.args[i]!;
  doc[pv] = r instanceof Error ? { t, device: pv, error: r.message } : { t, device: pv, ...r };
});
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(doc) + "\n"));
Deno.exit(0);
