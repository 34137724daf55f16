import assert from "node:assert/strict";
import { FACTS_UNITS } from "../../../tests/fixtures/ebaratron_facts.ts";
import { DeviceError } from "../../device/errors.ts";
import {
  encodeFields,
  encodePollRequest,
  encodePollResponse,
  encodeSetRequest,
  type GaugeValues,
  POLL_EVIDS,
  POLL_REQUEST,
} from "./protocol.ts";
import { decodePoll, decodePollResponse, parseRequest, parseResponse } from "./text_decoder.ts";
import { ledColor, ledMask, statusMask, systemStatus, UNITS, unitsName } from "./fields.ts";

// Copied verbatim from shared/protocols/mks-ebaratron-toolweb.md, not built from protocol.ts.
const FACTS_REQUEST =
  '<PollRequest><V Name="EVID_100"/><V Name="EVID_102"/><V Name="EVID_105"/><V Name="EVID_106"/><V Name="EVID_107"/><V Name="EVID_114"/><V Name="EVID_208"/><V Name="EVID_1103"/></PollRequest>';
const FACTS_RESPONSE =
  '<?xml version="1.0" encoding="UTF-8"?><PollResponse><V Name="EVID_100">3.78864</V><V Name="EVID_102">63063947</V><V Name="EVID_105">2</V><V Name="EVID_106">2</V><V Name="EVID_107">0</V><V Name="EVID_114">0.00164</V><V Name="EVID_208">134217728</V><V Name="EVID_1103">1000.0</V></PollResponse>';

/** Asserts `fn` throws a DeviceError whose message matches `re`. */
function throwsDevice(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DeviceError, `expected a DeviceError, got ${err}`);
    assert.match(err.message, re);
    return true;
  });
}

/** The facts' sample response with one V's text replaced (or removed with `null`). */
function withEvid(evid: number, text: string | null): string {
  const re = new RegExp(`<V Name="EVID_${evid}">[^<]*</V>`);
  return FACTS_RESPONSE.replace(re, text === null ? "" : `<V Name="EVID_${evid}">${text}</V>`);
}

Deno.test("poll request body is exactly the facts' body: fixed order, no declaration, no whitespace", () => {
  assert.equal(POLL_REQUEST, FACTS_REQUEST);
  assert.equal(encodePollRequest(), FACTS_REQUEST);
  assert.deepEqual(POLL_EVIDS, [100, 102, 105, 106, 107, 114, 208, 1103]);
});

Deno.test("the facts' raw example decodes to the stated values", () => {
  const v = decodePollResponse(FACTS_RESPONSE);
  assert.equal(v.pressure, 3.78864);
  assert.equal(v.pressure_units, "torr");
  assert.equal(v.run_hours, 63063947 / 3600);
  assert.equal(v.run_hours.toFixed(2), "17517.76");
  assert.equal(v.led_color, "green");
  assert.equal(v.wait_hours, 0);
  assert.equal(v.drift, 0.00164);
  assert.equal(v.system_status, "e-Baratron Zeroing Recommended");
  assert.equal(v.full_scale_pressure, 1000);
  assert.deepEqual(Object.keys(v).sort(), [
    "drift",
    "full_scale_pressure",
    "led_color",
    "pressure",
    "pressure_units",
    "run_hours",
    "system_status",
    "wait_hours",
  ]);
});

Deno.test("parser is lenient about the root tag, whitespace, comments, quotes and order", () => {
  const body = `<?xml version="1.0"?>
<!-- a comment -->
<Response  version='2'>
  <V Name='EVID_105'> 3 </V>
  <Other>ignored</Other>
  <V Name="EVID_100">1.5e-3</V>
</Response>
`;
  const raw = parseResponse(body);
  assert.equal(raw.root, "Response");
  assert.deepEqual([...raw.values], [[105, "3"], [100, "1.5e-3"]]);
  const v = decodePoll(raw.values, [100, 105]);
  assert.deepEqual(v, { pressure_units: "mtorr", pressure: 0.0015 });
});

Deno.test("only direct V children count: nested V elements are not fields", () => {
  const raw = parseResponse(
    '<PollResponse><Group><V Name="EVID_999">1</V></Group><V Name="EVID_100">2</V></PollResponse>',
  );
  assert.deepEqual([...raw.values], [[100, "2"]]);
});

Deno.test("entities in values are decoded", () => {
  const raw = parseResponse(
    '<PollResponse><V Name="EVID_100">&#51;.&#x35;&amp;</V></PollResponse>',
  );
  assert.equal(raw.values.get(100), "3.5&");
});

Deno.test("empty body is a device error", () => {
  throwsDevice(() => decodePollResponse(""), /body is empty/);
  throwsDevice(() => decodePollResponse(" \r\n"), /body is empty/);
});

Deno.test("malformed XML is a device error naming where it broke", () => {
  const cases = [
    FACTS_RESPONSE.slice(0, 120),
    "Internal Server Error",
    "<PollResponse><V Name=EVID_100>1</V></PollResponse>",
    '<PollResponse><V Name="EVID_100">1</W></PollResponse>',
    "<PollResponse></PollResponse>trailing",
    '<PollResponse><V Name="EVID_100">1 &bogus; 2</V></PollResponse>',
    '<?xml version="1.0"?>',
  ];
  for (const body of cases) {
    throwsDevice(() => decodePollResponse(body), /not well-formed XML: .+ at character \d+/);
  }
});

Deno.test("a missing EVID is a device error naming the field", () => {
  throwsDevice(() => decodePollResponse(withEvid(105, null)), /lacks EVID_105 \(pressure_units\)/);
  throwsDevice(
    () => decodePollResponse("<PollResponse></PollResponse>"),
    /lacks EVID_100 \(pressure\), EVID_102 \(run_hours\)/,
  );
});

Deno.test("an unexpected EVID is reported with its value, not dropped and not a crash", () => {
  const extra = FACTS_RESPONSE.replace(
    "</PollResponse>",
    '<V Name="EVID_999">42</V></PollResponse>',
  );
  throwsDevice(
    () => decodePollResponse(extra),
    /answered EVID_999="42", which the poll did not ask for and labwire does not know/,
  );
  // A known optional field that was not asked for: reported, without doubting the device.
  const optional = FACTS_RESPONSE.replace(
    "</PollResponse>",
    '<V Name="EVID_101">3.7</V></PollResponse>',
  );
  assert.throws(() => decodePollResponse(optional), (err: unknown) => {
    assert.ok(err instanceof DeviceError);
    assert.match(err.message, /EVID_101="3.7", which the poll did not ask for$/);
    return true;
  });
});

Deno.test("V elements without a usable Name, and duplicates, are device errors", () => {
  throwsDevice(
    () => parseResponse("<PollResponse><V>1</V></PollResponse>"),
    /<V> without a Name/,
  );
  throwsDevice(
    () => parseResponse('<PollResponse><V Name="pressure">1</V></PollResponse>'),
    /Name="pressure"/,
  );
  throwsDevice(
    () =>
      parseResponse('<PollResponse><V Name="EVID_1">1</V><V Name="EVID_1">2</V></PollResponse>'),
    /EVID_1 twice/,
  );
});

Deno.test("non-numeric values are device errors naming the field", () => {
  throwsDevice(() => decodePollResponse(withEvid(100, "n/a")), /EVID_100 \(pressure\) is "n\/a"/);
  throwsDevice(() => decodePollResponse(withEvid(114, "")), /EVID_114 \(drift\) is ""/);
  throwsDevice(() => decodePollResponse(withEvid(106, "2.5")), /led_color.*not a whole number/);
  throwsDevice(() => decodePollResponse(withEvid(208, "-4")), /system_status.*not a whole number/);
});

Deno.test("units index out of range is a device error, every index in range decodes", () => {
  throwsDevice(() => decodePollResponse(withEvid(105, "13")), /units index 13, outside .* 0–12/);
  throwsDevice(() => decodePollResponse(withEvid(105, "99")), /units index 99/);
  throwsDevice(() => decodePollResponse(withEvid(105, "-1")), /not a whole number/);
  assert.deepEqual(UNITS, FACTS_UNITS);
  for (let i = 0; i < 13; i++) {
    assert.equal(decodePollResponse(withEvid(105, String(i))).pressure_units, FACTS_UNITS[i]);
    assert.equal(unitsName(i), FACTS_UNITS[i]);
  }
});

Deno.test("LED bitmask: known bits joined in bit order, none known → unknown", () => {
  assert.equal(ledColor(1), "red");
  assert.equal(ledColor(2), "green");
  assert.equal(ledColor(4), "yellow");
  assert.equal(ledColor(16), "blinking");
  assert.equal(ledColor(18), "green, blinking");
  assert.equal(ledColor(1 + 4 + 16), "red, yellow, blinking");
  assert.equal(ledColor(0), "unknown");
  assert.equal(ledColor(8), "unknown");
  assert.equal(ledColor(8 + 2), "green");
  for (const m of [0, 1, 2, 4, 16, 18, 21, 23]) assert.equal(ledMask(ledColor(m)), m);
});

Deno.test("status bitmask: names in ascending bit order joined with ', ', none → ok", () => {
  assert.equal(systemStatus(0), "ok");
  assert.equal(systemStatus(2 ** 27), "e-Baratron Zeroing Recommended");
  assert.equal(systemStatus(2 ** 29 + 2 ** 1), "Signal Error (ADC0), Heater Failure");
  const all = [1, 2, 3, 4, 5, 6, 11, 12, 16, 17, 21, 26, 27, 28, 29]
    .reduce((a, b) => a + 2 ** b, 0);
  assert.equal(
    systemStatus(all),
    "Signal Error (ADC0), Signal Error (ADC1), Calibration Checksum1 Failure, " +
      "Calibration Checksum2 Failure, e-Baratron Outside Zeroing Range, Zero Adjusted, " +
      "Diaphragm Shorted, e-Baratron Over 110% of FS, Pressure Over Set Limit, " +
      "Pressure Under Set Limit, Illegal Access, Power Supply Out of Spec, " +
      "e-Baratron Zeroing Recommended, Cumulative Adjustment Over 20%, Heater Failure",
  );
  // Bits without a documented meaning are shown, not hidden behind "ok".
  assert.equal(systemStatus(1), "unknown bit 0");
  assert.equal(systemStatus(2 ** 31 + 2 ** 6), "Zero Adjusted, unknown bit 31");
  for (const m of [0, 1, all, 2 ** 31 + 2 ** 6]) assert.equal(statusMask(systemStatus(m)), m);
});

Deno.test("round trip: values → raw EVIDs → response body → values", () => {
  const samples: GaugeValues[] = [
    decodePollResponse(FACTS_RESPONSE),
    {
      pressure: 0.000123,
      pressure_units: "mbar",
      full_scale_pressure: 1.33,
      led_color: "yellow, blinking",
      run_hours: 1.5,
      wait_hours: 0.25,
      drift: -0.0002,
      system_status: "Zero Adjusted, Heater Failure",
    },
  ];
  for (const v of samples) {
    const body = encodePollResponse(encodeFields(v));
    assert.deepEqual(decodePollResponse(body), v);
    assert.deepEqual(decodePollResponse(encodePollResponse(encodeFields(v), false)), v);
  }
});

Deno.test("the facts' example re-encodes to the same EVIDs in the same order", () => {
  const raw = encodeFields(decodePollResponse(FACTS_RESPONSE));
  assert.deepEqual([...raw.keys()], [100, 102, 105, 106, 107, 114, 208, 1103]);
  assert.equal(raw.get(102), "63063947");
  assert.equal(raw.get(208), "134217728");
  assert.equal(raw.get(106), "2");
});

Deno.test("request parsing: the poll body and a SetRequest with escaped text", () => {
  const poll = parseRequest(FACTS_REQUEST);
  assert.equal(poll.kind, "PollRequest");
  assert.deepEqual(poll.items.map((i) => i.evid), [100, 102, 105, 106, 107, 114, 208, 1103]);
  const set = encodeSetRequest([[71, "a<b&c"]]);
  assert.equal(set, '<SetRequest><V Name="EVID_71">a&lt;b&amp;c</V></SetRequest>');
  assert.deepEqual(parseRequest(set), {
    kind: "SetRequest",
    items: [{ evid: 71, value: "a<b&c" }],
  });
  assert.equal(encodeSetRequest([[71, "1"]]), '<SetRequest><V Name="EVID_71">1</V></SetRequest>');
});

Deno.test("the fast path for canonical bodies and the full XML parser agree", () => {
  const bodies = [
    FACTS_RESPONSE,
    FACTS_RESPONSE.replace('<?xml version="1.0" encoding="UTF-8"?>', ""),
    encodePollResponse([[100, " 1.5 "], [7, ""], [208, "0"]]),
    "<Other></Other>",
  ];
  for (const body of bodies) {
    // A space inside the root's start tag is legal XML the fast path does not take.
    const slow = body.replace(/<(PollResponse|Other)>/, "<$1 >");
    assert.notEqual(slow, body);
    assert.deepEqual(parseResponse(body), parseResponse(slow));
  }
  throwsDevice(
    () => parseResponse('<R><V Name="EVID_1">1</V><V Name="EVID_1">1</V></R>'),
    /EVID_1 twice/,
  );
});
