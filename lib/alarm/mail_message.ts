/**
 * Builds an RFC 5322 e-mail (headers, UTF-8 text body in quoted-printable, RFC 2047 encoded
 * subject) and the dot-stuffed form SMTP's DATA command carries. Pure: no I/O.
 *
 * @module
 */

/** What an e-mail says and to whom. */
export interface MailContent {
  /** Sender address. */
  from: string;
  /** Recipient addresses. */
  to: string[];
  /** Subject line (any Unicode). */
  subject: string;
  /** Plain text body (any Unicode, any line endings). */
  text: string;
  /** Date header value; default now. */
  date?: Date;
  /** Message-ID without angle brackets; default a random UUID at `domain`. */
  messageId?: string;
  /** Domain for the default Message-ID (default the sender's domain). */
  domain?: string;
}

/**
 * Formats the whole message with CRLF line endings, ready for {@linkcode dotStuff}.
 *
 * @example
 * ```ts
 * import { buildMessage } from "./mail_message.ts";
 * const msg = buildMessage({ from: "lab@example.org", to: ["me@example.org"], subject: "hi", text: "x" });
 * msg.includes("Subject: hi\r\n"); // true
 * ```
 */
export function buildMessage(mail: MailContent): string {
  for (const a of [mail.from, ...mail.to]) {
    if (/[\r\n<>]/.test(a)) throw new TypeError(`not a plain address: ${JSON.stringify(a)}`);
  }
  const domain = mail.domain ?? mail.from.split("@")[1] ?? "localhost";
  const id = mail.messageId ?? `${crypto.randomUUID()}@${domain}`;
  const headers = [
    `Date: ${rfc5322Date(mail.date ?? new Date())}`,
    `From: ${mail.from}`,
    `To: ${mail.to.join(", ")}`,
    `Subject: ${encodeHeader(mail.subject)}`,
    `Message-ID: <${id}>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "Auto-Submitted: auto-generated",
    "X-Mailer: labwire",
  ];
  return `${headers.join("\r\n")}\r\n\r\n${quotedPrintable(mail.text)}\r\n`;
}

/** Formats a date as RFC 5322 wants it, in UTC: `Wed, 25 Nov 2026 16:57:22 +0000`. */
export function rfc5322Date(d: Date): string {
  return d.toUTCString().replace(/GMT$/, "+0000");
}

/**
 * Encodes a header value: ASCII text stays as is; otherwise RFC 2047 base64 encoded-words of
 * whole characters, folded so no line exceeds 78 characters.
 */
export function encodeHeader(text: string): string {
  const oneLine = text.replace(/[\r\n]+/g, " ");
  if (/^[\x20-\x7e]*$/.test(oneLine) && oneLine.length <= 900) return oneLine;
  const enc = new TextEncoder();
  const words: string[] = [];
  let chunk = "";
  for (const ch of oneLine) {
    // 45 bytes of UTF-8 become 60 base64 characters: with "=?utf-8?B?" and "?=" under 75.
    if (enc.encode(chunk + ch).length > 45) {
      words.push(chunk);
      chunk = "";
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?utf-8?B?${base64(enc.encode(w))}?=`).join("\r\n ");
}

/**
 * Encodes text as quoted-printable (RFC 2045) in UTF-8 with CRLF line breaks and soft breaks
 * keeping lines within 76 characters.
 *
 * @example
 * ```ts
 * import { quotedPrintable } from "./mail_message.ts";
 * quotedPrintable("p = 5 µbar"); // "p =3D 5 =C2=B5bar"
 * ```
 */
export function quotedPrintable(text: string): string {
  const enc = new TextEncoder();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  return lines.map((line) => {
    const bytes = enc.encode(line);
    let out = "";
    let width = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const last = i === bytes.length - 1;
      const literal = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last);
      const piece = literal
        ? String.fromCharCode(b)
        : `=${b.toString(16).toUpperCase().padStart(2, "0")}`;
      // Leave room for the "=" of a soft break.
      if (width + piece.length > 75) {
        out += "=\r\n";
        width = 0;
      }
      out += piece;
      width += piece.length;
    }
    return out;
  }).join("\r\n");
}

/**
 * Prepares a message for SMTP DATA: CRLF line endings, a "." doubled at the start of any line
 * (RFC 5321 §4.5.2), and the terminating `CRLF.CRLF`.
 *
 * @example
 * ```ts
 * import { dotStuff } from "./mail_message.ts";
 * dotStuff("a\n.b\n"); // "a\r\n..b\r\n.\r\n"
 * ```
 */
export function dotStuff(message: string): string {
  let body = message.replace(/\r?\n/g, "\r\n");
  if (!body.endsWith("\r\n")) body += "\r\n";
  return body.replace(/^\./gm, "..") + ".\r\n";
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
