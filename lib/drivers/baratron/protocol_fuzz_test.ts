import assert from "node:assert/strict";
import fc from "fast-check";
import { DeviceError } from "../../device/errors.ts";
import { fuzzTest, onlyThrows } from "../../../tests/fuzz_runs.ts";
import {
  encodeFields,
  encodePollRequest,
  encodePollResponse,
  encodeSetRequest,
  type GaugeValues,
  POLL_EVIDS,
} from "./protocol.ts";
import { decodePollBytes } from "./byte_decoder.ts";
import { decodePoll, decodePollResponse, parseRequest, parseResponse } from "./text_decoder.ts";
import { LED_BITS, ledColor, ledMask, statusMask, systemStatus, UNITS } from "./fields.ts";

const evid = fc.oneof(fc.constantFrom(...POLL_EVIDS, 101, 0, 999_999_999), fc.nat(2000));
/** Raw field texts a gauge (or a broken one) might send. */
const fieldText = fc.oneof(
  fc.constantFrom("0", "2", "12", "13", "-1", "1e309", "NaN", "", " 3.5 ", "0x10", "18", "4.2e-3"),
  fc.double().map(String),
  fc.nat().map(String),
  fc.string({ maxLength: 8 }),
);
const items = fc.array(fc.tuple(evid, fieldText), { maxLength: 12 });

/** Answers shaped like the real thing, then cut or spliced at random. */
const answerLike = fc.oneof(
  fc.string(),
  fc.tuple(items, fc.boolean()).map(([i, d]) => encodePollResponse(i, d)),
  fc.tuple(items, fc.nat(), fc.string({ maxLength: 6 })).map(([i, at, junk]) => {
    const body = encodePollResponse(i);
    const cut = at % (body.length + 1);
    return body.slice(0, cut) + junk + body.slice(cut + junk.length);
  }),
);

fuzzTest("parseResponse: any body is a RawResponse or a DeviceError", answerLike, (body) => {
  const raw = onlyThrows([DeviceError], () => parseResponse(body, "g"));
  if (raw === undefined) return;
  for (const [e, v] of raw.values) {
    assert.ok(Number.isInteger(e) && e >= 0, `EVID ${e}`);
    assert.equal(v, v.trim());
  }
});

fuzzTest(
  "decodePollResponse: any body is gauge values or a DeviceError",
  fc.oneof(
    answerLike,
    fc.array(fieldText, { minLength: 8, maxLength: 8 }).map((texts) =>
      encodePollResponse(POLL_EVIDS.map((e, i) => [e, texts[i]!]))
    ),
  ),
  (body) => {
    const v = onlyThrows([DeviceError], () => decodePollResponse(body, "g"));
    if (v === undefined) return;
    for (const k of ["pressure", "full_scale_pressure", "run_hours", "wait_hours", "drift"]) {
      assert.ok(Number.isFinite(v[k as keyof GaugeValues]), `${k} = ${v[k as keyof GaugeValues]}`);
    }
    assert.ok(UNITS.includes(v.pressure_units));
  },
);

/** Distinct EVIDs with texts as a gauge writes them (no surrounding blanks: the parser trims). */
const answerItems = fc.uniqueArray(
  fc.tuple(fc.nat(999_999_999), fc.string({ maxLength: 10, unit: "binary" }).map((s) => s.trim())),
  { selector: ([e]) => e, maxLength: 10 },
);

fuzzTest(
  "parseResponse: encodePollResponse round-trips, on the fast path and the full parser alike",
  answerItems,
  (its) => {
    const want = new Map(its);
    assert.deepEqual(parseResponse(encodePollResponse(its)).values, want);
    assert.deepEqual(parseResponse(encodePollResponse(its, false)).values, want);
    // Whitespace between the elements takes the full XML parser.
    const spaced = encodePollResponse(its).replaceAll("<V ", "\n  <V ");
    assert.deepEqual(parseResponse(spaced).values, want);
  },
);

fuzzTest("parseRequest: any body is a request or a DeviceError", answerLike, (body) => {
  onlyThrows([DeviceError], () => parseRequest(body.replace("PollResponse", "PollRequest")));
});

fuzzTest(
  "parseRequest: poll and set requests round-trip",
  fc.tuple(fc.array(fc.nat(999_999_999), { maxLength: 10 }), answerItems),
  ([evids, sets]) => {
    const poll = parseRequest(encodePollRequest(evids));
    assert.equal(poll.kind, "PollRequest");
    assert.deepEqual(poll.items.map((i) => i.evid), evids);
    const set = parseRequest(encodeSetRequest(sets));
    assert.equal(set.kind, "SetRequest");
    assert.deepEqual(set.items.map((i) => [i.evid, i.value]), sets);
  },
);

const gaugeValues = fc.record({
  pressure: fc.double({ noNaN: true, noDefaultInfinity: true }),
  pressure_units: fc.constantFrom(...UNITS),
  full_scale_pressure: fc.double({ noNaN: true, noDefaultInfinity: true }),
  led_color: fc.subarray(LED_BITS.map(([, n]) => n), { minLength: 1 }).map((n) => n.join(", ")),
  run_hours: fc.integer({ min: 0, max: 2 ** 40 }),
  wait_hours: fc.integer({ min: 0, max: 1000 }),
  drift: fc.double({ noNaN: true, noDefaultInfinity: true }),
  system_status: fc.nat().map(systemStatus),
});

fuzzTest(
  "decodePoll: encodeFields round-trips gauge values",
  gaugeValues,
  (v) => {
    const decoded = decodePoll(encodeFields(v));
    // String(-0) is "0": the sign of a zero is not on the wire.
    const zeroless = (x: GaugeValues) =>
      Object.fromEntries(Object.entries(x).map(([k, n]) => [k, Object.is(n, -0) ? 0 : n]));
    assert.deepEqual(zeroless(decoded as GaugeValues), zeroless(v));
  },
);

fuzzTest(
  "status and LED masks round-trip through their descriptions",
  fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  (mask) => {
    assert.equal(statusMask(systemStatus(mask)), mask);
    const known = LED_BITS.reduce((m, [b]) => m + (Math.floor(mask / 2 ** b) % 2) * 2 ** b, 0);
    assert.equal(ledMask(ledColor(mask)), known);
  },
);

fuzzTest(
  "parseResponse: the fast path agrees with the full XML parser on any body",
  answerLike,
  (body) => {
    // A comment after the declaration (or at the start) is ignored by XML but not canonical:
    // it sends the same answer through the full parser.
    const decl = /^<\?xml[^?<>]*\?>/.exec(body)?.[0] ?? "";
    const slow = decl + "<!---->" + body.slice(decl.length);
    const outcome = (text: string) => {
      try {
        const r = parseResponse(text, "g");
        return { root: r.root, values: [...r.values] };
      } catch (err) {
        if (!(err instanceof DeviceError)) throw err;
        return { error: err.message.includes("twice") ? "twice" : "error" };
      }
    };
    const fast = outcome(body);
    // Only answers the fast path takes are compared: the rest go through the full parser anyway.
    if ("error" in fast && fast.error === "error") return;
    assert.deepEqual(outcome(slow), fast);
  },
);

/** Numbers as gauges and broken gauges write them: decimals of every length, signs, exponents. */
const numberText = fc.oneof(
  fc.double().map(String),
  fc.tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.nat(1e12), fc.nat(18)).map(([i, f, pad]) =>
    `${i}.${String(f).padStart(pad, "0")}`
  ),
  fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
  fc.constantFrom("-0", "0.0", "007", "1.", ".5", "+3", "1e3", "-", "0x1F", " 4 ", "\t2\n"),
);

fuzzTest(
  "decodePollBytes: the same values or the same error as decodePollResponse of the text",
  fc.oneof(
    answerLike,
    fc.tuple(
      fc.array(fc.oneof(numberText, fieldText), { minLength: 8, maxLength: 8 }),
      fc.boolean(),
    )
      .map(([texts, d]) => encodePollResponse(POLL_EVIDS.map((e, i) => [e, texts[i]!]), d)),
  ),
  (body) => {
    const outcome = (decode: () => GaugeValues) => {
      try {
        return decode();
      } catch (err) {
        if (!(err instanceof DeviceError)) throw err;
        return err.message;
      }
    };
    const bytes = new TextEncoder().encode(`junk${body}more`);
    const end = bytes.length - 4;
    assert.deepEqual(
      outcome(() => decodePollBytes(bytes, 4, end, "g")),
      outcome(() => decodePollResponse(body, "g")),
    );
  },
);
