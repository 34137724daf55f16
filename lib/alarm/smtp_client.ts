/**
 * A small SMTP client (RFC 5321) on `Deno.connect`: EHLO (HELO fallback), STARTTLS (RFC 3207)
 * or implicit TLS, AUTH PLAIN or LOGIN (RFC 4954), MAIL FROM / RCPT TO / DATA with
 * dot-stuffing, QUIT. One connection per call; enough to send alarm e-mails, no more.
 * Passwords never appear in errors or logs.
 *
 * @module
 */
import { dotStuff } from "./mail_message.ts";
import type { SmtpSecurity } from "./notify_config.ts";

/** Where and how to connect. */
export interface SmtpOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** plain, starttls (required: fails if not offered) or tls (implicit, "SMTPS"). */
  security: SmtpSecurity;
  /** AUTH user; no AUTH when absent. */
  user?: string;
  /** AUTH password. */
  password?: string;
  /** Extra CA certificates (PEM) to trust. */
  caCerts?: string[];
  /** Name sent with EHLO (default this host's name). */
  helo?: string;
  /** Aborts the dialogue (closes the connection). */
  signal?: AbortSignal;
}

/** An envelope and the formatted message. */
export interface SmtpEnvelope {
  /** MAIL FROM address. */
  from: string;
  /** RCPT TO addresses. */
  to: string[];
  /** The RFC 5322 message (see `buildMessage`). */
  message: string;
}

/** The server refused a command, or the dialogue broke. */
export class SmtpError extends Error {
  /** Creates an error for the step `what`; `code` is the server's reply code, if any. */
  constructor(message: string, readonly code?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "SmtpError";
  }
}

/** One server reply: its code and its text lines. */
export interface SmtpReply {
  /** Three-digit reply code. */
  code: number;
  /** Text of every line, without code and separator. */
  lines: string[];
}

/**
 * Parses one reply line: `250-SIZE` continues a reply, `250 OK` ends it.
 *
 * @example
 * ```ts
 * import { parseReplyLine } from "./smtp_client.ts";
 * parseReplyLine("250-STARTTLS"); // { code: 250, last: false, text: "STARTTLS" }
 * ```
 */
export function parseReplyLine(line: string): { code: number; last: boolean; text: string } {
  const m = /^(\d{3})([ -]|$)(.*)$/.exec(line);
  if (!m) throw new SmtpError(`not an SMTP reply line: ${JSON.stringify(line.slice(0, 80))}`);
  return { code: Number(m[1]), last: m[2] !== "-", text: m[3] ?? "" };
}

/** Parses EHLO reply lines into extension keywords (upper case) and their parameters. */
export function parseExtensions(reply: SmtpReply): Map<string, string[]> {
  const ext = new Map<string, string[]>();
  for (const line of reply.lines.slice(1)) {
    const [kw, ...params] = line.trim().split(/\s+/);
    if (kw) ext.set(kw.toUpperCase(), params.map((p) => p.toUpperCase()));
  }
  return ext;
}

/**
 * Sends one message and closes the connection; throws {@linkcode SmtpError} saying which step
 * failed and what the server answered.
 *
 * @example
 * ```ts ignore
 * import { sendMail } from "./smtp_client.ts";
 * await sendMail(
 *   { host: "127.0.0.1", port: 2525, security: "plain" },
 *   { from: "lab@example.org", to: ["me@example.org"], message: "Subject: hi\r\n\r\nhello\r\n" },
 * );
 * ```
 */
export async function sendMail(opts: SmtpOptions, envelope: SmtpEnvelope): Promise<void> {
  const where = `${opts.host}:${opts.port}`;
  let conn: Deno.Conn;
  try {
    conn = opts.security === "tls"
      ? await Deno.connectTls({ hostname: opts.host, port: opts.port, caCerts: opts.caCerts })
      : await Deno.connect({ hostname: opts.host, port: opts.port });
  } catch (err) {
    throw new SmtpError(
      `cannot connect to SMTP server ${where}: ${(err as Error).message}`,
      undefined,
      {
        cause: err,
      },
    );
  }
  const session = new Dialogue(conn, where);
  const onAbort = () => session.close();
  if (opts.signal?.aborted) session.close();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await session.expect("greeting", undefined, [220]);
    const helo = opts.helo ?? localName();
    let ext = await ehlo(session, helo);
    if (opts.security === "starttls") {
      if (!ext.has("STARTTLS")) {
        throw new SmtpError(`${where} does not offer STARTTLS; set security = "tls" or "plain"`);
      }
      await session.expect("STARTTLS", "STARTTLS", [220]);
      await session.startTls(opts.host, opts.caCerts);
      ext = await ehlo(session, helo);
    }
    if (opts.user !== undefined) await auth(session, ext, opts.user, opts.password ?? "");
    await session.expect("MAIL FROM", `MAIL FROM:<${envelope.from}>`, [250]);
    for (const rcpt of envelope.to) {
      await session.expect(`RCPT TO <${rcpt}>`, `RCPT TO:<${rcpt}>`, [250, 251]);
    }
    await session.expect("DATA", "DATA", [354]);
    await session.expect("message", dotStuff(envelope.message), [250], false);
    try {
      await session.expect("QUIT", "QUIT", [221]);
    } catch {
      // The message is accepted; a server that drops the line at QUIT changes nothing.
    }
  } catch (err) {
    if (opts.signal?.aborted) {
      throw new SmtpError(`SMTP to ${where} aborted`, undefined, { cause: err });
    }
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    session.close();
  }
}

async function ehlo(session: Dialogue, helo: string): Promise<Map<string, string[]>> {
  const reply = await session.command(`EHLO ${helo}`);
  if (reply.code === 250) return parseExtensions(reply);
  await session.expect("HELO", `HELO ${helo}`, [250]);
  return new Map();
}

async function auth(
  session: Dialogue,
  ext: Map<string, string[]>,
  user: string,
  password: string,
): Promise<void> {
  const mechanisms = ext.get("AUTH") ?? [];
  if (mechanisms.includes("PLAIN")) {
    const token = b64(`\0${user}\0${password}`);
    await session.expect("AUTH PLAIN", `AUTH PLAIN ${token}`, [235]);
  } else if (mechanisms.includes("LOGIN")) {
    await session.expect("AUTH LOGIN", "AUTH LOGIN", [334]);
    await session.expect("AUTH LOGIN user", b64(user), [334]);
    await session.expect("AUTH LOGIN password", b64(password), [235]);
  } else {
    throw new SmtpError(
      `${session.where} offers no AUTH PLAIN or LOGIN (it offers: ${
        mechanisms.join(" ") || "no AUTH at all"
      })`,
    );
  }
}

function b64(text: string): string {
  let s = "";
  for (const b of new TextEncoder().encode(text)) s += String.fromCharCode(b);
  return btoa(s);
}

function localName(): string {
  try {
    const name = Deno.hostname();
    return /^[A-Za-z0-9.-]+$/.test(name) ? name : "localhost";
  } catch {
    return "localhost";
  }
}

/** The line-level conversation over one connection. */
class Dialogue {
  #buf = new Uint8Array(0);
  #closed = false;
  #decoder = new TextDecoder();
  #encoder = new TextEncoder();

  constructor(public conn: Deno.Conn, readonly where: string) {}

  /** Sends a command and reads its reply. */
  async command(line: string, crlf = true): Promise<SmtpReply> {
    await this.#write(crlf ? `${line}\r\n` : line);
    return await this.reply();
  }

  /** Sends `line` (none for the greeting) and checks the reply code; `what` names the step. */
  async expect(
    what: string,
    line: string | undefined,
    codes: number[],
    crlf = true,
  ): Promise<SmtpReply> {
    const reply = line === undefined ? await this.reply() : await this.command(line, crlf);
    if (!codes.includes(reply.code)) {
      throw new SmtpError(
        `SMTP server ${this.where} refused ${what}: ${reply.code} ${reply.lines.join(" ")}`,
        reply.code,
      );
    }
    return reply;
  }

  /** Reads one (possibly multi-line) reply. */
  async reply(): Promise<SmtpReply> {
    const lines: string[] = [];
    for (;;) {
      const { code, last, text } = parseReplyLine(await this.#line());
      lines.push(text);
      if (last) return { code, lines };
    }
  }

  /** Upgrades the connection to TLS (after a 220 to STARTTLS). */
  async startTls(hostname: string, caCerts?: string[]): Promise<void> {
    if (this.#buf.length > 0) {
      throw new SmtpError(`${this.where} sent data before the TLS handshake`);
    }
    this.conn = await Deno.startTls(this.conn as Deno.TcpConn, { hostname, caCerts });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed by the peer
    }
  }

  async #write(text: string): Promise<void> {
    const bytes = this.#encoder.encode(text);
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  async #line(): Promise<string> {
    for (;;) {
      const nl = this.#buf.indexOf(10);
      if (nl >= 0) {
        const line = this.#decoder.decode(this.#buf.subarray(0, nl)).replace(/\r$/, "");
        this.#buf = this.#buf.slice(nl + 1);
        return line;
      }
      if (this.#buf.length > 64 * 1024) throw new SmtpError(`${this.where}: reply line too long`);
      const chunk = new Uint8Array(4096);
      const n = await this.conn.read(chunk);
      if (n === null) throw new SmtpError(`SMTP server ${this.where} closed the connection`);
      const next = new Uint8Array(this.#buf.length + n);
      next.set(this.#buf);
      next.set(chunk.subarray(0, n), this.#buf.length);
      this.#buf = next;
    }
  }
}
