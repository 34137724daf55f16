import assert from "node:assert/strict";
import {
  buildMessage,
  dotStuff,
  encodeHeader,
  quotedPrintable,
  rfc5322Date,
} from "./mail_message.ts";
import { decodeQuotedPrintable } from "../../tests/fixtures/quoted_printable.ts";

Deno.test("messages carry Date, Message-ID, MIME headers and a quoted-printable body", () => {
  const msg = buildMessage({
    from: "lab@example.org",
    to: ["a@example.org", "b@example.org"],
    subject: "[labwire] MAJOR active: oven.temp > 300 (oven)",
    text: "line 1\n.starts with a dot\n",
    date: new Date(Date.UTC(2026, 10, 25, 16, 57, 22)),
    messageId: "abc@example.org",
  });
  const split = msg.indexOf("\r\n\r\n");
  const head = msg.slice(0, split);
  const body = msg.slice(split + 4);
  assert.deepEqual(head.split("\r\n"), [
    "Date: Wed, 25 Nov 2026 16:57:22 +0000",
    "From: lab@example.org",
    "To: a@example.org, b@example.org",
    "Subject: [labwire] MAJOR active: oven.temp > 300 (oven)",
    "Message-ID: <abc@example.org>",
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "Auto-Submitted: auto-generated",
    "X-Mailer: labwire",
  ]);
  assert.equal(body, "line 1\r\n.starts with a dot\r\n\r\n");
  assert.match(
    buildMessage({ from: "a@b", to: ["c@d"], subject: "s", text: "" }),
    /Message-ID: <[0-9a-f-]{36}@b>/,
  );
  assert.throws(
    () => buildMessage({ from: "a@b", to: ["c@d>\r\nBcc: x@y"], subject: "s", text: "" }),
    /not a plain address/,
  );
});

Deno.test("quoted-printable encodes =, non-ASCII and trailing spaces, and soft-wraps at 76", () => {
  assert.equal(quotedPrintable("a=b µ"), "a=3Db =C2=B5");
  assert.equal(quotedPrintable("end \nx\t"), "end=20\r\nx=09");
  const long = quotedPrintable("x".repeat(200));
  const lines = long.split("\r\n");
  assert.ok(lines.every((l) => l.length <= 76), "no line over 76 characters");
  assert.equal(lines.map((l) => l.replace(/=$/, "")).join(""), "x".repeat(200));
  const decoded = decodeQuotedPrintable(quotedPrintable("température 23 °C = ok ".repeat(10)));
  assert.equal(decoded, "température 23 °C = ok ".repeat(10));
});

Deno.test("subjects with non-ASCII become RFC 2047 words that decode back", () => {
  assert.equal(encodeHeader("plain ascii"), "plain ascii");
  assert.equal(encodeHeader("two\r\nlines"), "two lines");
  const subject = "Température du four > 300 °C — alarme MAJEURE ".repeat(3);
  const encoded = encodeHeader(subject);
  for (const line of encoded.split("\r\n")) assert.ok(line.length <= 78, line);
  const decoded = encoded.split("\r\n ").map((w) => {
    const m = /^=\?utf-8\?B\?(.*)\?=$/.exec(w)!;
    return new TextDecoder().decode(Uint8Array.from(atob(m[1]!), (c) => c.charCodeAt(0)));
  }).join("");
  assert.equal(decoded, subject);
});

Deno.test("dot-stuffing doubles leading dots, uses CRLF and ends with CRLF.CRLF", () => {
  assert.equal(dotStuff("a\n.b\r\n..c"), "a\r\n..b\r\n...c\r\n.\r\n");
  assert.equal(dotStuff(".\n"), "..\r\n.\r\n");
  assert.equal(rfc5322Date(new Date(0)), "Thu, 01 Jan 1970 00:00:00 +0000");
});
