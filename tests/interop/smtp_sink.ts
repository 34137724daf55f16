/**
 * The SMTP server of the tests that send mail: Debian's python3-aiosmtpd driven by
 * `fixtures/smtp_sink.py`, which saves each message it accepts as `NNNN.eml` (and its envelope as
 * `NNNN.json`) in a directory.
 *
 * @module
 */
import { findProgram } from "../peers.ts";
import { decodeQuotedPrintable } from "../fixtures/quoted_printable.ts";

const FIXTURE = new URL("./fixtures/smtp_sink.py", import.meta.url).pathname;

/** A python3 that can import aiosmtpd (Debian's, even when another python3 comes first on PATH). */
const PYTHON = ["/usr/bin/python3", findProgram("python3")].find((p) =>
  p !== undefined && findProgram(p) !== undefined &&
  new Deno.Command(p, { args: ["-c", "import aiosmtpd"], stdout: "null", stderr: "null" })
    .outputSync().success
);

/** The peers an SMTP test needs that are missing. */
export const needsSmtp = (): string[] => PYTHON ? [] : ["python3-aiosmtpd"];

/** A running sink: its port, the directory it saves mail in, and how to stop it. */
export interface SmtpPeer {
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/** Starts the sink (`args`: `--mode plain|starttls|tls`, certificates, AUTH user). */
export async function startSmtp(args: string[]): Promise<SmtpPeer> {
  const dir = await Deno.makeTempDir({ prefix: "labwire-smtp-" });
  const child = new Deno.Command(PYTHON!, {
    args: [FIXTURE, "--dir", dir, ...args],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/PORT (\d+)\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`smtp_sink.py exited before listening: ${text}`);
    text += value;
  }
  const port = Number(/PORT (\d+)/.exec(text)![1]);
  return {
    port,
    dir,
    async stop() {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.status;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** One saved message: its envelope, headers (lower-case names) and decoded body. */
export interface Received {
  meta: {
    mail_from: string;
    rcpt_tos: string[];
    tls: boolean;
    authenticated: boolean;
    login: string | null;
  };
  headers: Map<string, string>;
  body: string;
}

/** The messages the sink saved in `dir`, in order. */
export async function received(dir: string): Promise<Received[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) if (e.name.endsWith(".eml")) names.push(e.name);
  names.sort();
  return await Promise.all(names.map(async (name) => {
    const raw = await Deno.readTextFile(`${dir}/${name}`);
    const meta = JSON.parse(await Deno.readTextFile(`${dir}/${name.replace(".eml", ".json")}`));
    const split = raw.indexOf("\r\n\r\n");
    const headers = new Map<string, string>();
    for (const line of raw.slice(0, split).replace(/\r\n[ \t]+/g, " ").split("\r\n")) {
      const i = line.indexOf(":");
      headers.set(line.slice(0, i).toLowerCase(), line.slice(i + 1).trim());
    }
    return {
      meta,
      headers,
      body: decodeQuotedPrintable(raw.slice(split + 4)).replace(/\r\n/g, "\n"),
    };
  }));
}
