/**
 * Runs the reference EPICS server (`softIoc` from the reference build) on loopback for interop
 * tests and benchmarks: a free port, the loopback-only environment of the facts sheet, a database
 * with macros, an optional access security file; stopped with `exit` on its shell.
 *
 * @module
 */
import { EPICS_BIN, findProgram } from "../peers.ts";
import { CaClient } from "../../lib/drivers/epics/client.ts";

/** Path of the reference softIoc, or undefined when the reference build is absent. */
export const SOFTIOC = findProgram(`${EPICS_BIN}/softIoc`);

/** Returns the names of missing peers for `peerTest`. */
export function missingSoftIoc(): string[] {
  return SOFTIOC ? [] : [`softIoc (reference EPICS build in ${EPICS_BIN})`];
}

/** The loopback-only CA environment for both the IOC and clients, on `port`. */
export function caEnv(port: number): Record<string, string> {
  return {
    EPICS_CA_AUTO_ADDR_LIST: "NO",
    EPICS_CA_ADDR_LIST: "127.0.0.1",
    EPICS_CAS_INTF_ADDR_LIST: "127.0.0.1",
    EPICS_CAS_AUTO_BEACON_ADDR_LIST: "NO",
    EPICS_CAS_BEACON_ADDR_LIST: "127.0.0.1",
    EPICS_CA_SERVER_PORT: String(port),
    EPICS_CAS_SERVER_PORT: String(port),
    // Beacons to a port nobody listens on, and no caRepeater left running by the tests.
    EPICS_CA_REPEATER_PORT: String(port + 1),
  };
}

/** Returns a port free on 127.0.0.1 (the kernel's choice for TCP; UDP is almost surely free). */
export function freePort(): number {
  for (let i = 0; i < 20; i++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (port < 65535) return port; // its successor is the (unused) beacon port
  }
  throw new Error("no free port on 127.0.0.1");
}

/** Options of {@linkcode startSoftIoc}. */
export interface SoftIocOptions {
  /** Database text (written to a temporary file). */
  db: string;
  /** Macros for the database, e.g. `{ P: "T:" }`. */
  macros?: Record<string, string>;
  /** Access security file text. */
  acf?: string;
  /** The CA port (default a free one). */
  port?: number;
}

/** A running softIoc. */
export interface SoftIoc {
  /** The CA port it serves (UDP search and TCP). */
  port: number;
  /** The CA environment for clients of this IOC. */
  env: Record<string, string>;
  /** Its process id. */
  pid: number;
  /** Everything it printed so far. */
  output(): string;
  /** Stops it with `exit` (or SIGKILL with `kill: true`) and waits for it to end. */
  stop(opts?: { kill?: boolean }): Promise<void>;
}

/** Starts softIoc and resolves once `iocInit` has completed. */
export async function startSoftIoc(opts: SoftIocOptions): Promise<SoftIoc> {
  if (!SOFTIOC) throw new Error(missingSoftIoc()[0]);
  const dir = await Deno.makeTempDir({ prefix: "labwire-ioc-" });
  const dbPath = `${dir}/test.db`;
  await Deno.writeTextFile(dbPath, opts.db);
  const args: string[] = [];
  const macros = Object.entries(opts.macros ?? {}).map(([k, v]) => `${k}=${v}`).join(",");
  if (macros) args.push("-m", macros);
  if (opts.acf) {
    await Deno.writeTextFile(`${dir}/test.acf`, opts.acf);
    args.push("-a", `${dir}/test.acf`);
  }
  args.push("-d", dbPath);
  const port = opts.port ?? freePort();
  const env = caEnv(port);
  const child = new Deno.Command(SOFTIOC, {
    args,
    env: { ...env, PATH: "/usr/bin:/bin" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let ready: () => void;
  const started = new Promise<void>((r) => (ready = r));
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      text += dec.decode(chunk, { stream: true });
      if (text.includes("iocRun: All initialization complete")) ready();
    }
  };
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  const stdin = child.stdin.getWriter();
  const status = child.status;
  const timeout = new Promise<never>((_, reject) => {
    const t = setTimeout(() => reject(new Error(`softIoc did not start:\n${text}`)), 10_000);
    started.finally(() => clearTimeout(t));
    status.then(() => clearTimeout(t));
  });
  let stopped = false;
  const stop = async (o: { kill?: boolean } = {}) => {
    if (stopped) return;
    stopped = true;
    if (o.kill) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    } else {
      // softIoc may already have exited
      await stdin.write(new TextEncoder().encode("exit\n")).catch(() => {});
    }
    // softIoc may already have exited
    await stdin.close().catch(() => {});
    const t = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await status;
    clearTimeout(t);
    await drained;
    // cleanup: a temporary file already gone is fine
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const earlyExit = status.then(() => {
    if (!stopped) throw new Error(`softIoc exited:\n${text}`);
  });
  earlyExit.catch(() => {}); // only matters during the start-up race below
  try {
    await Promise.race([started, timeout, earlyExit]);
  } catch (err) {
    await stop({ kill: true });
    throw err;
  }
  return { port, env, pid: child.pid, output: () => text, stop };
}

/** The "Key: value" lines of `caget -d` / `cainfo` output, e.g. `{ "Hi alarm limit": "40" }`. */
export function caFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s+([A-Za-z][A-Za-z ]*?):\s+(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** labwire's CA client pointed at `ioc` alone (loopback, its port, no repeater). */
export function caClientFor(ioc: SoftIoc): CaClient {
  return new CaClient({
    addrList: ["127.0.0.1"],
    autoAddrList: false,
    serverPort: ioc.port,
    repeaterPort: 0,
  });
}
