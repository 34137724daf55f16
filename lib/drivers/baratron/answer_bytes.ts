/**
 * A simulated gauge's HTTP answer to a poll, written as bytes: everything but the values is
 * encoded once per list of EVIDs asked (clients send the same poll every time), the values'
 * ASCII digits are written between, and the status line and headers go in front. The body is
 * exactly what {@linkcode encodePollAnswer} makes (tested against it).
 *
 * @module
 */
import { escapeXml } from "./xml.ts";
import { dateLine } from "../../transport/http_responder.ts";

const encoder = new TextEncoder();

const PROLOGUE = '<?xml version="1.0" encoding="UTF-8"?><PollResponse>';
const CLOSE_V = encoder.encode("</V>");
const EPILOGUE = encoder.encode("</PollResponse>");
const STATUS = encoder.encode("HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\n");
const LENGTH = encoder.encode("content-length: ");
const CRLFCRLF = encoder.encode("\r\n\r\n");
/** Room in front of the body for the status line and headers (a date line is 37 bytes). */
const HEAD_ROOM = STATUS.length + 48 + LENGTH.length + 16;
/** Longest text of a number (`String(-1.2345678901234567e-300)` is 24 characters). */
const VALUE_ROOM = 32;

/** The fixed bytes of the answer to one list of EVIDs: an opening tag per EVID answered. */
export class PollAnswerLayout {
  /** The EVIDs answered, in the order asked. */
  readonly evids: number[];
  /** `<V Name="EVID_n">` per answered EVID; the first starts with the XML declaration. */
  readonly #opens: Uint8Array[];
  /** Bytes an answer needs at most (values of numbers). */
  readonly size: number;

  /** Lays out the answer to `asked`, keeping the EVIDs for which `has` is true. */
  constructor(asked: readonly number[], has: (evid: number) => boolean) {
    this.evids = asked.filter(has);
    this.#opens = this.evids.map((e, i) =>
      encoder.encode(`${i === 0 ? PROLOGUE : ""}<V Name="EVID_${e}">`)
    );
    let size = HEAD_ROOM + EPILOGUE.length + encoder.encode(PROLOGUE).length;
    for (const o of this.#opens) size += o.length + VALUE_ROOM + CLOSE_V.length;
    this.size = size;
  }

  /**
   * Writes the whole HTTP answer (200, text/xml) with `text(evid)` for each EVID into
   * `scratch` (at least {@linkcode PollAnswerLayout.size} bytes) and returns a copy of it.
   * Texts other than short plain ASCII (overrides in tests) are escaped and encoded.
   */
  answer(text: (evid: number) => string, scratch: Uint8Array): Uint8Array {
    const evids = this.evids;
    const opens = this.#opens;
    let at = HEAD_ROOM;
    if (evids.length === 0) {
      scratch.set(encoder.encode(PROLOGUE), at);
      at += PROLOGUE.length;
    }
    for (let i = 0; i < evids.length; i++) {
      const open = opens[i]!;
      scratch.set(open, at);
      at += open.length;
      at = putText(text(evids[i]!), scratch, at);
      scratch.set(CLOSE_V, at);
      at += CLOSE_V.length;
    }
    scratch.set(EPILOGUE, at);
    at += EPILOGUE.length;
    const length = String(at - HEAD_ROOM);
    const date = dateLine();
    const start = HEAD_ROOM - CRLFCRLF.length - length.length - LENGTH.length - date.length -
      STATUS.length;
    scratch.set(STATUS, start);
    scratch.set(date, start + STATUS.length);
    scratch.set(LENGTH, start + STATUS.length + date.length);
    putAscii(length, scratch, HEAD_ROOM - CRLFCRLF.length - length.length);
    scratch.set(CRLFCRLF, HEAD_ROOM - CRLFCRLF.length);
    return scratch.slice(start, at);
  }
}

/** Writes `s` (known ASCII) at `at`; returns the end. */
function putAscii(s: string, b: Uint8Array, at: number): number {
  for (let i = 0; i < s.length; i++) b[at++] = s.charCodeAt(i);
  return at;
}

/** Writes a value's text, XML-escaped, at `at`; returns the end. */
function putText(s: string, b: Uint8Array, at: number): number {
  if (s.length <= VALUE_ROOM) {
    let plain = true;
    for (let i = 0; i < s.length && plain; i++) {
      const c = s.charCodeAt(i);
      plain = c < 128 && c !== 60 && c !== 38 && c !== 62 && c !== 34 && c !== 39;
    }
    if (plain) return putAscii(s, b, at);
  }
  const bytes = encoder.encode(escapeXml(s));
  if (bytes.length > VALUE_ROOM) throw new RangeError("value text longer than its room");
  b.set(bytes, at);
  return at + bytes.length;
}
