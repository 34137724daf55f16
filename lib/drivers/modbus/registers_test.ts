import assert from "node:assert/strict";
import {
  decodeRegisters,
  encodeRegisters,
  parseRegisterNumber,
  planReads,
  type RegisterSpec,
  WORD_ORDERS,
} from "./registers.ts";

const spec = (over: Partial<RegisterSpec>): RegisterSpec => ({
  table: "holding",
  address: 0,
  type: "uint16",
  order: "ABCD",
  scale: 1,
  offset: 0,
  ...over,
});

Deno.test("manual notation: 40001 is holding 0, 30001 input 0, 10001 discrete 0, 1 coil 0", () => {
  assert.deepEqual(parseRegisterNumber(40001), { table: "holding", address: 0 });
  assert.deepEqual(parseRegisterNumber(44097), { table: "holding", address: 4096 });
  assert.deepEqual(parseRegisterNumber(30001), { table: "input", address: 0 });
  assert.deepEqual(parseRegisterNumber(10001), { table: "discrete", address: 0 });
  assert.deepEqual(parseRegisterNumber(1), { table: "coil", address: 0 });
  assert.deepEqual(parseRegisterNumber(2069), { table: "coil", address: 2068 });
  assert.deepEqual(parseRegisterNumber(465536), { table: "holding", address: 65535 });
  assert.deepEqual(parseRegisterNumber(404097), { table: "holding", address: 4096 });
  for (const bad of [0, 40000, 30000, 20001, 50001, 465537, 1.5]) {
    assert.equal(parseRegisterNumber(bad), undefined, String(bad));
  }
});

Deno.test("float32 in the four word orders (1.5 = 3fc0 0000)", () => {
  const want: Record<string, number[]> = {
    ABCD: [0x3fc0, 0x0000],
    CDAB: [0x0000, 0x3fc0],
    BADC: [0xc03f, 0x0000],
    DCBA: [0x0000, 0xc03f],
  };
  for (const order of WORD_ORDERS) {
    const s = spec({ type: "float32", order });
    assert.deepEqual(encodeRegisters(s, 1.5), want[order], order);
    assert.equal(decodeRegisters(s, want[order]!, 0), 1.5, order);
    // Decoded in place from inside a longer register list (a poll's block).
    assert.equal(decodeRegisters(s, [7, 7, ...want[order]!, 7], 2), 1.5, order);
  }
  assert.equal(
    decodeRegisters(spec({ type: "uint32", order: "CDAB" }), [9, 0x0002, 0x0001], 1),
    0x10002,
  );
});

Deno.test("32- and 64-bit integers and float64, word orders", () => {
  assert.deepEqual(encodeRegisters(spec({ type: "uint32" }), 0x12345678), [0x1234, 0x5678]);
  assert.deepEqual(encodeRegisters(spec({ type: "uint32", order: "CDAB" }), 0x12345678), [
    0x5678,
    0x1234,
  ]);
  assert.deepEqual(encodeRegisters(spec({ type: "int32", order: "DCBA" }), 0x12345678), [
    0x7856,
    0x3412,
  ]);
  assert.equal(decodeRegisters(spec({ type: "int32" }), [0xffff, 0xfffe], 0), -2);
  const f64 = spec({ type: "float64", order: "CDAB" });
  const regs = encodeRegisters(f64, Math.PI);
  assert.equal(regs.length, 4);
  assert.deepEqual(regs, [...encodeRegisters(spec({ type: "float64" }), Math.PI)].reverse());
  assert.equal(decodeRegisters(f64, [0, ...regs], 1), Math.PI);
});

Deno.test("int16, scale and offset, enum maps, bits, strings", () => {
  const sv = spec({ type: "int16", scale: 0.1 });
  assert.equal(decodeRegisters(sv, [250], 0), 25);
  assert.deepEqual(encodeRegisters(sv, 25), [250]);
  assert.deepEqual(encodeRegisters(sv, -1.5), [0xfff1]);
  assert.equal(decodeRegisters(sv, [0xfff1], 0), -1.5);
  assert.throws(() => encodeRegisters(sv, 4000), /raw value 40000, outside int16's -32768…32767/);
  const off = spec({ type: "uint16", scale: 0.5, offset: -40 });
  assert.equal(decodeRegisters(off, [100], 0), 10);
  assert.deepEqual(encodeRegisters(off, 10), [100]);
  const units = spec({ map: { "15": "C", "30": "F" } });
  assert.equal(decodeRegisters(units, [15], 0), "C");
  assert.equal(decodeRegisters(units, [16], 0), "unknown (16)");
  assert.deepEqual(encodeRegisters(units, "F"), [30]);
  assert.throws(() => encodeRegisters(units, "K"), /"K" is not one of "C", "F"/);
  const bit = spec({ type: "bit", bit: 3 });
  assert.equal(decodeRegisters(bit, [0b1000], 0), true);
  assert.equal(decodeRegisters(bit, [0b0111], 0), false);
  assert.deepEqual(encodeRegisters(bit, true), [8]);
  const str = spec({ type: "string", length: 3 });
  assert.deepEqual(encodeRegisters(str, "MG15"), [0x4d47, 0x3135, 0]);
  assert.equal(decodeRegisters(str, [0x4d47, 0x3135, 0], 0), "MG15");
  assert.equal(
    decodeRegisters(spec({ type: "string", length: 2, order: "BADC" }), [0x474d, 0x3531], 0),
    "MG15",
  );
  assert.throws(() => encodeRegisters(str, "too long!"), /longer than 6/);
});

Deno.test("a poll's adjacent registers coalesce; limits split; gaps only when allowed", () => {
  const items = Array.from(
    { length: 20 },
    (_, i) => ({ key: `r${i}`, spec: spec({ address: 100 + i }) }),
  );
  const blocks = planReads(items.reverse());
  assert.equal(blocks.length, 1);
  assert.deepEqual(blocks[0]!.requests, [[100, 20]]);
  assert.equal(blocks[0]!.items.find((i) => i.key === "r7")!.offset, 7);
  const floats = Array.from(
    { length: 100 },
    (_, i) => ({ key: i, spec: spec({ address: 2 * i, type: "float32" }) }),
  );
  assert.deepEqual(planReads(floats)[0]!.requests, [[0, 125], [125, 75]]);
  assert.deepEqual(planReads(floats, { maxRegisters: 100 })[0]!.requests, [[0, 100], [100, 100]]);
  const gap = [{ key: "a", spec: spec({ address: 0 }) }, { key: "b", spec: spec({ address: 3 }) }];
  assert.equal(planReads(gap).length, 2);
  assert.deepEqual(planReads(gap, { maxGap: 2 }).map((b) => b.requests), [[[0, 4]]]);
  const mixed = [
    { key: "c", spec: spec({ table: "coil", address: 5, type: "bool" }) },
    { key: "h", spec: spec({ address: 5 }) },
  ];
  assert.deepEqual(planReads(mixed).map((b) => b.table), ["coil", "holding"]);
  // Bits of one register share it.
  const bits = [0, 1, 2].map((b) => ({ key: b, spec: spec({ type: "bit", bit: b }) }));
  assert.deepEqual(planReads(bits)[0]!.requests, [[0, 1]]);
});
