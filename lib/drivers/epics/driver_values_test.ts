import assert from "node:assert/strict";
import { DBR } from "./dbr_types.ts";
import {
  type ChannelFacts,
  charText,
  ctrlLimits,
  pvValue,
  sizeProblem,
  valueAttr,
} from "./driver_values.ts";

const wchar: ChannelFacts = {
  nativeType: DBR.CHAR,
  nativeCount: 32,
  readAccess: true,
  writeAccess: true,
  server: "127.0.0.1:5064",
};
const bytes = (s: string) => [...new TextEncoder().encode(s), 0, 0, 0];

Deno.test("charText: text up to the NUL, NULs after; control bytes and bad UTF-8 are not text", () => {
  assert.equal(charText(bytes("hello world")), "hello world");
  assert.equal(charText(bytes("température\tok\n")), "température\tok\n");
  assert.equal(charText([]), "");
  assert.equal(charText([0, 0]), "");
  assert.equal(charText([104, 105]), "hi");
  assert.equal(charText([104, 0, 105]), undefined, "bytes after the NUL");
  assert.equal(charText([1, 2, 3]), undefined);
  assert.equal(charText([0xff, 0xfe]), undefined);
  assert.equal(charText([104, 0x7f]), undefined);
});

Deno.test("a CHAR waveform reads as text by content, or as forced by as_string", () => {
  const text = { value: bytes("ready") };
  const data = { value: [1, 2, 200, 0] };
  assert.equal(pvValue(wchar, text, undefined, "auto"), "ready");
  assert.deepEqual(pvValue(wchar, data, undefined, "auto"), [1, 2, 200, 0]);
  assert.deepEqual(pvValue(wchar, text, undefined, "bytes"), bytes("ready"));
  assert.equal(pvValue(wchar, { value: [79, 75, 0, 9, 1] }, undefined, "string"), "OK");
  const attrText = valueAttr("T:msg", wchar, { value: bytes("ready") }, "auto");
  assert.equal(attrText.type, "string");
  assert.match(attrText.description!, /holds text \(\?as_string=0 reads the bytes\)/);
  assert.equal(valueAttr("T:msg", wchar, { value: [1, 2] }, "auto").type, "number[]");
  assert.equal(valueAttr("T:msg", wchar, { value: bytes("x") }, "bytes").type, "number[]");
  assert.equal(valueAttr("T:msg", wchar, { value: [] }, "auto").elements, 32);
  // A scalar CHAR stays a number unless forced.
  const scalar = { ...wchar, nativeCount: 1 };
  assert.equal(pvValue(scalar, { value: [65] }, undefined, "auto"), 65);
});

Deno.test("ctrlLimits: the four ranges of DBR_CTRL, NaN (not in force) as null", () => {
  assert.deepEqual(
    ctrlLimits({
      value: [1],
      upperDispLimit: 100,
      lowerDispLimit: -100,
      upperAlarmLimit: 40,
      upperWarningLimit: NaN,
      lowerWarningLimit: -30,
      lowerAlarmLimit: -40,
      upperCtrlLimit: 50,
      lowerCtrlLimit: -50,
    }),
    {
      display: { low: -100, high: 100 },
      warning: { low: -30, high: null },
      alarm: { low: -40, high: 40 },
      control: { low: -50, high: 50 },
    },
  );
  assert.equal(ctrlLimits({ value: [0], enumStrings: ["a"] }), undefined);
});

Deno.test("sizeProblem: a write larger than the element count is refused, naming what fits", () => {
  assert.equal(sizeProblem("T:msg", wchar, "a".repeat(31)), undefined);
  assert.equal(
    sizeProblem("T:msg", wchar, "a".repeat(32)),
    "32 bytes of text do not fit T:msg: it holds 31 and the closing NUL",
  );
  assert.equal(sizeProblem("T:msg", wchar, new Array(32).fill(1)), undefined);
  assert.equal(
    sizeProblem("T:msg", wchar, new Array(33).fill(1)),
    "33 elements do not fit T:msg: it holds at most 32",
  );
  const str = { ...wchar, nativeType: DBR.STRING, nativeCount: 1 };
  assert.equal(sizeProblem("T:str", str, "a".repeat(39)), undefined);
  assert.equal(
    sizeProblem("T:str", str, "a".repeat(40)),
    "40 bytes of text do not fit T:str: an EPICS string holds 39 (longer text needs a CHAR waveform or an lso record)",
  );
});
