import assert from "node:assert/strict";
import { UsageError } from "../../device/errors.ts";
import { attrsFromDetail, errorAnswer, parseReading, parseTarget, SseParser } from "./protocol.ts";

Deno.test("parseTarget: host, port (default 8600) and the remote device", () => {
  assert.deepEqual(parseTarget("10.0.0.7:8601/gauge"), {
    host: "10.0.0.7",
    port: 8601,
    device: "gauge",
  });
  assert.deepEqual(parseTarget("pc7.lab/motor/"), { host: "pc7.lab", port: 8600, device: "motor" });
  assert.equal(parseTarget("[::1]:9000/g").host, "[::1]");
  for (const bad of ["10.0.0.7:8600", "10.0.0.7/", "/gauge", "h/a/b", "999.1.1.1/g"]) {
    assert.throws(() => parseTarget(bad), UsageError, bad);
  }
  assert.throws(
    () => parseTarget("h:8600"),
    (e: UsageError) => /labwire:\/\/HOST\[:PORT\]\/DEVICE/.test(e.hint ?? ""),
  );
});

Deno.test("SseParser: events split anywhere across chunks, comments and retry skipped", () => {
  const text = 'retry: 1000\n: labwire\n\nid: 5:g\nevent: reading\ndata: {"t":1}\n\n' +
    ": ping\n\nevent: alarm\ndata: a\ndata: b\n\r\n";
  const whole = new SseParser().push(text);
  assert.deepEqual(whole, [
    { event: "reading", data: '{"t":1}', id: "5:g" },
    { event: "alarm", data: "a\nb" },
  ]);
  for (let cut = 1; cut < text.length; cut++) {
    const p = new SseParser();
    assert.deepEqual([...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))], whole, `${cut}`);
    assert.equal(p.pending, 0);
  }
  const p = new SseParser();
  p.push("data: unfinished");
  assert.equal(p.pending, "data: unfinished".length);
});

Deno.test("parseReading: values apart from t, device and error", () => {
  assert.deepEqual(parseReading('{"t":1.5,"device":"g","p":3,"on":true}'), {
    t: 1.5,
    device: "g",
    values: { p: 3, on: true },
  });
  assert.deepEqual(parseReading('{"t":2,"device":"g","error":"no answer"}'), {
    t: 2,
    device: "g",
    values: {},
    error: "no answer",
  });
  assert.throws(() => parseReading('{"device":"g"}'), /not a reading/);
});

Deno.test("attrsFromDetail: the API's attr records back into Attrs", () => {
  const attrs = attrsFromDetail({
    attrs: [
      {
        name: "position",
        type: "number",
        rw: true,
        units: "mm",
        min: -100,
        max: 100,
        precision: 3,
        description: "setpoint",
        default_reading: true,
      },
      { name: "status", type: "enum", rw: false, options: ["idle"], default_reading: false },
    ],
    attrs_error: null,
  });
  assert.deepEqual(attrs, [
    {
      name: "position",
      type: "number",
      rw: true,
      status: true,
      units: "mm",
      min: -100,
      max: 100,
      precision: 3,
      description: "setpoint",
    },
    { name: "status", type: "enum", rw: false, status: false, options: ["idle"] },
  ]);
  assert.throws(() => attrsFromDetail({ attrs: [], attrs_error: "no answer" }), /no answer/);
  assert.throws(() => attrsFromDetail({ attrs: [{ name: "x", type: "blob" }] }), /malformed/);
  assert.throws(() => attrsFromDetail({}), /no attrs list/);
});

Deno.test("errorAnswer: the message of an API error body", () => {
  assert.equal(
    errorAnswer('{"error":{"code":"x","message":"wrong bearer token"}}'),
    "wrong bearer token",
  );
  assert.equal(errorAnswer("<html>"), undefined);
});
