import assert from "node:assert/strict";
import { parseConfig } from "./load.ts";

const GAUGE = '[devices.gauge]\naddress = "sim://gauge"\n';

Deno.test("a [derived.NAME] table becomes a derived:// device with its attributes", () => {
  const c = parseConfig(
    `${GAUGE}[derived.vac]\ninterval = "250ms"\nmbar = { expr = "gauge.pressure * 1.33322", units = "mbar" }\nrough = "gauge.pressure > 1"\n`,
  );
  const vac = c.devices.find((d) => d.name === "vac")!;
  assert.equal(vac.address.text, "derived://vac");
  assert.equal(vac.interval, 250);
  assert.deepEqual(vac.options.uses, ["gauge"]);
  assert.deepEqual(
    (vac.options.attrs as { name: string }[]).map((a) => a.name),
    ["mbar", "rough"],
  );
});

Deno.test("derived config mistakes name the key", () => {
  const cases: [string, RegExp][] = [
    [`[derived.vac]\nx = "gauge.pressure +"`, /derived\.vac\.x: the expression ends too early/],
    [
      `[derived.vac]\nx = { expr = "1", unit = "V" }`,
      /derived\.vac\.x\.unit: unknown key.*"units"/,
    ],
    [`[derived.vac]\nx = 3`, /derived\.vac\.x: expected an expression/],
    [`[derived.vac]\ninterval = "1s"`, /derived\.vac: a derived device needs at least one/],
    [
      `[derived.vac]\nx = "vac.y"\ny = "1"`,
      /derived\.vac\.x: vac\.y: a derived attribute cannot read its own device/,
    ],
    [
      `[derived.a]\nx = "b.x"\n[derived.b]\nx = "a.x"`,
      /derived devices read each other in a cycle: a → b → a/,
    ],
    [`[derived.gauge]\nx = "1"`, /"gauge" is both a device and a derived device/],
    [
      `[derived.vac]\nx = { expr = "1", precision = 40 }`,
      /derived\.vac\.x\.precision: expected a whole number/,
    ],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseConfig(GAUGE + text, "lab.toml"), re, text);
  }
});
