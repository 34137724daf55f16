/**
 * Channel Access status codes (ECA_*, from `caerr.h`): code = (message number << 3) | severity.
 * Servers put them in READ_NOTIFY / WRITE_NOTIFY / EVENT_ADD responses (p1) and ERROR messages.
 *
 * @example
 * ```ts
 * import { ECA, ecaMessage, ecaName, isEcaSuccess } from "./eca.ts";
 * ecaName(ECA.NOWTACCESS); // "ECA_NOWTACCESS"
 * ecaMessage(376); // "Write access denied"
 * isEcaSuccess(ECA.NORMAL); // true
 * ```
 *
 * @module
 */

/** ECA severities (the low 3 bits of a code). */
export const CA_K = { WARNING: 0, SUCCESS: 1, ERROR: 2, INFO: 3, SEVERE: 4, FATAL: 6 } as const;

/** [name, severity, message] per message number (index). */
const TABLE = [
  ["NORMAL", CA_K.SUCCESS, "Normal successful completion"],
  ["MAXIOC", CA_K.ERROR, "Maximum simultaneous IOC connections exceeded"],
  ["UKNHOST", CA_K.ERROR, "Unknown internet host"],
  ["UKNSERV", CA_K.ERROR, "Unknown internet service"],
  ["SOCK", CA_K.ERROR, "Unable to allocate a new socket"],
  ["CONN", CA_K.WARNING, "Unable to connect to internet host or service"],
  ["ALLOCMEM", CA_K.WARNING, "Unable to allocate additional dynamic memory"],
  ["UKNCHAN", CA_K.WARNING, "Unknown IO channel"],
  ["UKNFIELD", CA_K.WARNING, "Record field specified inappropriate for channel specified"],
  [
    "TOLARGE",
    CA_K.WARNING,
    "The requested transfer is greater than available memory or EPICS_CA_MAX_ARRAY_BYTES",
  ],
  ["TIMEOUT", CA_K.WARNING, "User specified timeout on IO operation expired"],
  ["NOSUPPORT", CA_K.WARNING, "Sorry, that feature is planned but not supported at this time"],
  ["STRTOBIG", CA_K.WARNING, "The supplied string is unusually large"],
  [
    "DISCONNCHID",
    CA_K.ERROR,
    "The request was ignored because the specified channel is disconnected",
  ],
  ["BADTYPE", CA_K.ERROR, "The data type specifed is invalid"],
  ["CHIDNOTFND", CA_K.INFO, "Remote Channel not found"],
  ["CHIDRETRY", CA_K.INFO, "Unable to locate all user specified channels"],
  ["INTERNAL", CA_K.FATAL, "Channel Access Internal Failure"],
  ["DBLCLFAIL", CA_K.WARNING, "The requested local DB operation failed"],
  ["GETFAIL", CA_K.WARNING, "Channel read request failed"],
  ["PUTFAIL", CA_K.WARNING, "Channel write request failed"],
  ["ADDFAIL", CA_K.WARNING, "Channel subscription request failed"],
  ["BADCOUNT", CA_K.WARNING, "Invalid element count requested"],
  ["BADSTR", CA_K.ERROR, "Invalid string"],
  ["DISCONN", CA_K.WARNING, "Virtual circuit disconnect"],
  ["DBLCHNL", CA_K.WARNING, "Identical process variable names on multiple servers"],
  [
    "EVDISALLOW",
    CA_K.ERROR,
    "Request inappropriate within subscription (monitor) update callback",
  ],
  ["BUILDGET", CA_K.WARNING, "Database value get for that channel failed during channel search"],
  ["NEEDSFP", CA_K.WARNING, "Unable to initialize without the vxWorks VX_FP_TASK task option set"],
  [
    "OVEVFAIL",
    CA_K.WARNING,
    "Event queue overflow has prevented first pass event after event add",
  ],
  ["BADMONID", CA_K.ERROR, "Bad event subscription (monitor) identifier"],
  ["NEWADDR", CA_K.WARNING, "Remote channel has new network address"],
  ["NEWCONN", CA_K.INFO, "New or resumed network connection"],
  ["NOCACTX", CA_K.WARNING, "Specified task isnt a member of a CA context"],
  ["DEFUNCT", CA_K.FATAL, "Attempt to use defunct CA feature failed"],
  ["EMPTYSTR", CA_K.WARNING, "The supplied string is empty"],
  [
    "NOREPEATER",
    CA_K.WARNING,
    "Unable to spawn the CA repeater thread- auto reconnect will fail",
  ],
  ["NOCHANMSG", CA_K.WARNING, "No channel id match for search reply- search reply ignored"],
  ["DLCKREST", CA_K.WARNING, "Reseting dead connection- will try to reconnect"],
  [
    "SERVBEHIND",
    CA_K.WARNING,
    "Server (IOC) has fallen behind or is not responding- still waiting",
  ],
  ["NOCAST", CA_K.WARNING, "No internet interface with broadcast available"],
  ["BADMASK", CA_K.ERROR, "Invalid event selection mask"],
  ["IODONE", CA_K.INFO, "IO operations have completed"],
  ["IOINPROGRESS", CA_K.INFO, "IO operations are in progress"],
  ["BADSYNCGRP", CA_K.ERROR, "Invalid synchronous group identifier"],
  ["PUTCBINPROG", CA_K.ERROR, "Put callback timed out"],
  ["NORDACCESS", CA_K.WARNING, "Read access denied"],
  ["NOWTACCESS", CA_K.WARNING, "Write access denied"],
  ["ANACHRONISM", CA_K.ERROR, "Requested feature is no longer supported"],
  ["NOSEARCHADDR", CA_K.WARNING, "Empty PV search address list"],
  ["NOCONVERT", CA_K.WARNING, "No reasonable data conversion between client and server types"],
  ["BADCHID", CA_K.ERROR, "Invalid channel identifier"],
  ["BADFUNCPTR", CA_K.ERROR, "Invalid function pointer"],
  ["ISATTACHED", CA_K.WARNING, "Thread is already attached to a client context"],
  ["UNAVAILINSERV", CA_K.WARNING, "Not supported by attached service"],
  ["CHANDESTROY", CA_K.WARNING, "User destroyed channel"],
  ["BADPRIORITY", CA_K.ERROR, "Invalid channel priority"],
  [
    "NOTTHREADED",
    CA_K.ERROR,
    "Preemptive callback not enabled - additional threads may not join context",
  ],
  [
    "16KARRAYCLIENT",
    CA_K.WARNING,
    "Client's protocol revision does not support transfers exceeding 16k bytes",
  ],
  ["CONNSEQTMO", CA_K.WARNING, "Virtual circuit connection sequence aborted"],
  ["UNRESPTMO", CA_K.WARNING, "Virtual circuit connection unresponsive"],
] as const;

/** Builds the ECA code of a message number and severity. */
export function ecaCode(messageNumber: number, severity: number): number {
  return (messageNumber << 3) | (severity & 7);
}

/** The name of an ECA code without its `ECA_` prefix, e.g. `"NORDACCESS"`. */
export type EcaName = (typeof TABLE)[number][0];

/** Every ECA code by name without the `ECA_` prefix, e.g. `ECA.NORMAL === 1`. */
export const ECA: Readonly<Record<EcaName, number>> = Object.freeze(
  Object.fromEntries(TABLE.map(([name, sev], i) => [name, ecaCode(i, sev)])),
) as Record<EcaName, number>;

/** The message number of a code (its upper bits). */
export function ecaMessageNumber(code: number): number {
  return code >>> 3;
}

/** The severity of a code (its low 3 bits), see {@linkcode CA_K}. */
export function ecaSeverity(code: number): number {
  return code & 7;
}

/** True when a code reports success (severity SUCCESS or INFO), e.g. ECA_NORMAL. */
export function isEcaSuccess(code: number): boolean {
  return (code & 1) === 1;
}

/** The symbolic name of a code, e.g. `ECA_NORDACCESS`; unknown codes print as `ECA_<code>`. */
export function ecaName(code: number): string {
  const row = TABLE[ecaMessageNumber(code)];
  return row ? `ECA_${row[0]}` : `ECA_${code}`;
}

/** The human message of a code, as `ca_message()` prints it. */
export function ecaMessage(code: number): string {
  const row = TABLE[ecaMessageNumber(code)];
  return row ? row[2] : `unknown Channel Access status ${code}`;
}
