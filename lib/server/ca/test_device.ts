/**
 * A device for the CA server's tests, registered as the `catypes://x?n=N` driver: the attribute
 * types the sims lack — a waveform of `N` numbers (default 5), an integer, a string and an enum
 * of 20 states (more than DBR_CTRL_ENUM's 16) — all writable.
 *
 * @example
 * ```ts ignore
 * import "./test_device.ts";
 * const lab = await Lab.open(parseConfig(`[devices.fake]\naddress = "catypes://x?n=3"\n`));
 * ```
 *
 * @module
 */
import { attr, type Value, type Values } from "../../device/attr.ts";
import type { Device } from "../../device/device.ts";
import { registerDriver } from "../../device/registry.ts";

/** The device: `wave` = 0, 0.5, 1, …, `count` 7, `label` "hello", `mode` "mode3". */
function typesDevice(name: string, length: number): Device {
  const options = Array.from({ length: 20 }, (_, i) => `mode${i}`);
  const values: Values = {
    wave: Array.from({ length }, (_, i) => i / 2),
    count: 7,
    label: "hello",
    mode: "mode3",
  };
  return {
    name,
    address: "catypes://x",
    driver: "catypes",
    attrs: () =>
      Promise.resolve([
        attr("wave", "number[]", { rw: true, units: "V" }),
        attr("count", "integer", { rw: true, min: 0, max: 1000, status: false }),
        attr("label", "string", { rw: true }),
        attr("mode", "enum", { rw: true, options }),
      ]),
    read: (names) =>
      Promise.resolve(
        Object.fromEntries((names ?? Object.keys(values)).map((n) => [n, values[n] ?? null])),
      ),
    write: (n: string, v: Value) => {
      values[n] = v;
      return Promise.resolve();
    },
    techniques: () => [],
    close: () => Promise.resolve(),
  };
}

registerDriver({
  scheme: "catypes",
  summary: "CA server test device",
  example: "catypes://x?n=5",
  open: (address, ctx) =>
    Promise.resolve(typesDevice(ctx.name, Number(address.params.get("n") ?? 5))),
});
