/**
 * HTTPS for `serve`: `--tls-cert FILE --tls-key FILE` (or `[server] tls_cert`/`tls_key`). A bearer
 * token sent over plain HTTP beyond loopback can be read off the wire, so `serve` warns when it
 * listens beyond loopback without TLS. Deno.serve does the TLS itself; the files are read once at
 * start-up.
 *
 * @module
 */
import { UsageError } from "../device/errors.ts";
import type { ListenAddress } from "../device/host_port.ts";
import { isLoopback } from "./listen.ts";
import { readNamedFile } from "../config/named_file.ts";

/** A certificate (chain) and its private key, PEM text, as Deno.serve takes them. */
export interface TlsPem {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/** Where the certificate and the key come from (flags over `[server]`). */
export interface TlsFiles {
  /** The certificate file. */
  cert?: string;
  /** The key file. */
  key?: string;
}

/**
 * Reads the certificate and the key; neither given is plain HTTP (undefined). One without the
 * other, an unreadable file or a file that is not PEM is a usage error naming the file.
 *
 * @example
 * ```ts
 * import { loadTls } from "./tls.ts";
 * await loadTls({}); // undefined: plain HTTP
 * ```
 */
export async function loadTls(files: TlsFiles): Promise<TlsPem | undefined> {
  if (files.cert === undefined && files.key === undefined) return undefined;
  if (files.cert === undefined || files.key === undefined) {
    throw new UsageError(
      `--tls-${files.cert === undefined ? "key" : "cert"} needs --tls-${
        files.cert === undefined ? "cert" : "key"
      } too ([server] tls_cert and tls_key)`,
      "make a test pair with: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 " +
        '-nodes -days 365 -subj "/CN=$(hostname)" -keyout key.pem -out cert.pem',
    );
  }
  const read = async (flag: string, file: string, marker: RegExp) => {
    const text = await readNamedFile(`--${flag}`, file);
    if (!marker.test(text)) {
      throw new UsageError(
        `--${flag} ${file}: not a PEM file (expected a "-----BEGIN ${
          flag === "tls-cert" ? "CERTIFICATE" : "PRIVATE KEY"
        }-----" block)`,
      );
    }
    return text;
  };
  return {
    cert: await read("tls-cert", files.cert, /-----BEGIN CERTIFICATE-----/),
    key: await read("tls-key", files.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
  };
}

/**
 * The start-up warning for a listener beyond loopback without TLS (undefined when there is
 * nothing to say).
 *
 * @example
 * ```ts
 * import { plainHttpWarning } from "./tls.ts";
 * plainHttpWarning({ hostname: "127.0.0.1", port: 8600 }, false); // undefined
 * ```
 */
export function plainHttpWarning(listen: ListenAddress, tls: boolean): string | undefined {
  if (tls || isLoopback(listen.hostname)) return undefined;
  return `listening on ${listen.hostname}:${listen.port} without TLS: the bearer token and every ` +
    "reading cross the network in clear text; give --tls-cert FILE --tls-key FILE ([server] " +
    "tls_cert, tls_key) or put a TLS reverse proxy in front";
}
