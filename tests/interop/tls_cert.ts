/** A self-signed certificate made by openssl for the TLS tests (serve over HTTPS, mqtts://). */
import assert from "node:assert/strict";
import { runTool } from "../peers.ts";

/** Makes a self-signed P-256 certificate for 127.0.0.1 and localhost in `dir`. */
export async function makeCert(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const r = await runTool("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    // an end-entity certificate: Deno's fetch (rustls) refuses a CA certificate as a server's
    // ("CaUsedAsEndEntity"), which openssl req -x509 makes unless told otherwise
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  assert.equal(r.code, 0, r.err);
  return { cert, key };
}
