import assert from "node:assert/strict";
import { parseExtensions, parseReplyLine, sendMail, SmtpError } from "./smtp_client.ts";

Deno.test("reply lines and EHLO extensions parse", () => {
  assert.deepEqual(parseReplyLine("250-SIZE 1000"), { code: 250, last: false, text: "SIZE 1000" });
  assert.deepEqual(parseReplyLine("220 ready"), { code: 220, last: true, text: "ready" });
  assert.deepEqual(parseReplyLine("250"), { code: 250, last: true, text: "" });
  assert.throws(() => parseReplyLine("hello"), SmtpError);
  const ext = parseExtensions({
    code: 250,
    lines: ["mx hello", "STARTTLS", "auth login Plain", "8BITMIME"],
  });
  assert.deepEqual([...ext.keys()], ["STARTTLS", "AUTH", "8BITMIME"]);
  assert.deepEqual(ext.get("AUTH"), ["LOGIN", "PLAIN"]);
});

/**
 * A scripted SMTP peer on loopback: `answer` maps each received command line to reply text
 * (DATA content is collected until the lone "."). Returns the lines it saw.
 */
async function scripted(
  answer: (line: string) => string,
  run: (port: number) => Promise<void>,
): Promise<string[]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  const server = (async () => {
    const conn = await listener.accept();
    const enc = new TextEncoder();
    const send = (text: string) => conn.write(enc.encode(text));
    await send("220 fake ESMTP\r\n");
    let buf = "";
    let inData = false;
    const chunk = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await conn.read(chunk);
        if (n === null) break;
        buf += new TextDecoder().decode(chunk.subarray(0, n));
        let i: number;
        while ((i = buf.indexOf("\r\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          seen.push(line);
          if (inData) {
            if (line === ".") {
              inData = false;
              await send("250 queued\r\n");
            }
            continue;
          }
          const reply = answer(line);
          if (line === "DATA" && reply.startsWith("354")) inData = true;
          await send(reply);
          if (line === "QUIT") {
            conn.close();
            return;
          }
        }
      }
    } catch {
      // the client closed first
    }
    try {
      conn.close();
    } catch {
      // already closed
    }
  })();
  try {
    await run((listener.addr as Deno.NetAddr).port);
  } finally {
    await server;
    listener.close();
  }
  return seen;
}

Deno.test("AUTH LOGIN is used when PLAIN is not offered; DATA is dot-stuffed", async () => {
  const seen = await scripted((line) => {
    if (line.startsWith("EHLO")) return "250-fake\r\n250 AUTH LOGIN\r\n";
    if (line === "AUTH LOGIN") return "334 VXNlcm5hbWU6\r\n";
    if (line === btoa("lab")) return "334 UGFzc3dvcmQ6\r\n";
    if (line === btoa("pa:ss")) return "235 ok\r\n";
    if (line === "DATA") return "354 go\r\n";
    if (line === "QUIT") return "221 bye\r\n";
    return "250 ok\r\n";
  }, (port) =>
    sendMail(
      { host: "127.0.0.1", port, security: "plain", user: "lab", password: "pa:ss", helo: "test" },
      { from: "a@b", to: ["c@d", "e@f"], message: "Subject: x\r\n\r\n.hidden\r\nshown\r\n" },
    ));
  assert.deepEqual(seen, [
    "EHLO test",
    "AUTH LOGIN",
    btoa("lab"),
    btoa("pa:ss"),
    "MAIL FROM:<a@b>",
    "RCPT TO:<c@d>",
    "RCPT TO:<e@f>",
    "DATA",
    "Subject: x",
    "",
    "..hidden",
    "shown",
    ".",
    "QUIT",
  ]);
});

Deno.test("HELO is the fallback, and a refused recipient is an error naming step and reply", async () => {
  let err: unknown;
  const seen = await scripted((line) => {
    if (line.startsWith("EHLO")) return "502 not implemented\r\n";
    if (line.startsWith("RCPT")) return "550 5.1.1 no such user\r\n";
    if (line === "QUIT") return "221 bye\r\n";
    return "250 ok\r\n";
  }, async (port) => {
    err = await sendMail(
      { host: "127.0.0.1", port, security: "plain", helo: "test" },
      { from: "a@b", to: ["nobody@d"], message: "x" },
    ).catch((e) => e);
  });
  assert.deepEqual(seen.slice(0, 3), ["EHLO test", "HELO test", "MAIL FROM:<a@b>"]);
  assert.ok(err instanceof SmtpError);
  assert.equal(err.code, 550);
  assert.match(err.message, /refused RCPT TO <nobody@d>: 550 5\.1\.1 no such user/);
});

Deno.test("STARTTLS required but not offered fails before any credential is sent", async () => {
  let err: unknown;
  const seen = await scripted((line) => {
    if (line.startsWith("EHLO")) return "250-fake\r\n250 AUTH PLAIN\r\n";
    return "250 ok\r\n";
  }, async (port) => {
    err = await sendMail(
      { host: "127.0.0.1", port, security: "starttls", user: "u", password: "secret", helo: "t" },
      { from: "a@b", to: ["c@d"], message: "x" },
    ).catch((e) => e);
  });
  assert.deepEqual(seen, ["EHLO t"]);
  assert.match(String(err), /does not offer STARTTLS/);
  assert.doesNotMatch(String(err), /secret/);
});

Deno.test("a rejected AUTH PLAIN says so without echoing the credentials", async () => {
  let err: unknown;
  await scripted((line) => {
    if (line.startsWith("EHLO")) return "250-fake\r\n250 AUTH PLAIN LOGIN\r\n";
    if (line.startsWith("AUTH PLAIN")) return "535 5.7.8 bad credentials\r\n";
    return "250 ok\r\n";
  }, async (port) => {
    err = await sendMail(
      { host: "127.0.0.1", port, security: "plain", user: "u", password: "secret", helo: "t" },
      { from: "a@b", to: ["c@d"], message: "x" },
    ).catch((e) => e);
  });
  assert.match(String(err), /refused AUTH PLAIN: 535 5\.7\.8 bad credentials/);
  assert.doesNotMatch(String(err), /secret|AHUAc2VjcmV0/);
});

Deno.test("a closed port is a clear connection error", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await assert.rejects(
    sendMail({ host: "127.0.0.1", port, security: "plain" }, {
      from: "a@b",
      to: ["c@d"],
      message: "x",
    }),
    /cannot connect to SMTP server 127\.0\.0\.1:\d+/,
  );
});
