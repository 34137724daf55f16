/**
 * `derived://NAME`: a device made of attributes computed from other devices' attributes, as
 * configured in `[derived.NAME]` (see `lib/config/derived_schema.ts`). A read reads every
 * attribute the requested expressions refer to, through the other devices' queues (quietly: their
 * own subscribers see only their own sampling), grouped one read per device and concurrently, and
 * evaluates the expressions ({@linkcode DerivedPlan}). A failed dependency fails the read with its
 * device named; a missing value makes a gap.
 *
 * @module
 */
import { type Attr, attr, type Value, type Values } from "../../device/attr.ts";
import type { CallOptions, Device } from "../../device/device.ts";
import { DeviceError, errorMessage, UsageError } from "../../device/errors.ts";
import { type Expression, parseExpression } from "../../device/expression.ts";
import type { Driver, PeerDevice } from "../../device/registry.ts";
import type { DerivedAttrConfig } from "../../config/derived_schema.ts";
import { DERIVED_INFO } from "./driver_info.ts";

/**
 * How to compute some derived attributes from one reading of their dependencies: which
 * attributes of which device to read, and where each value goes in each expression's slots.
 * Built once per set of requested names; {@linkcode DerivedPlan.evaluate} is the per-read cost.
 */
export class DerivedPlan {
  /** Attributes to read, per device, in request order. */
  readonly reads: Map<string, string[]> = new Map();
  readonly #exprs: { name: string; expr: Expression; from: [string, string][] }[] = [];
  readonly #slots: Value[][];

  /** A plan for `names` among `exprs`. */
  constructor(names: readonly string[], exprs: ReadonlyMap<string, Expression>) {
    for (const name of names) {
      const expr = exprs.get(name);
      if (!expr) continue;
      const from: [string, string][] = [];
      for (const ref of expr.refs) {
        const dot = ref.indexOf(".");
        const device = ref.slice(0, dot);
        const a = ref.slice(dot + 1);
        let list = this.reads.get(device);
        if (!list) this.reads.set(device, list = []);
        if (!list.includes(a)) list.push(a);
        from.push([device, a]);
      }
      this.#exprs.push({ name, expr, from });
    }
    this.#slots = this.#exprs.map((e) => new Array<Value>(e.from.length));
  }

  /** Evaluates every expression from the dependencies' values (`values.get(device)[attr]`). */
  evaluate(values: ReadonlyMap<string, Values>, out: Values = {}): Values {
    for (let i = 0; i < this.#exprs.length; i++) {
      const e = this.#exprs[i]!;
      const slots = this.#slots[i]!;
      for (let k = 0; k < e.from.length; k++) {
        const [device, a] = e.from[k]!;
        slots[k] = values.get(device)?.[a] ?? null;
      }
      try {
        out[e.name] = e.expr.evaluate(slots);
      } catch (err) {
        throw new DeviceError(`${e.name} = ${errorMessage(err)}`);
      }
    }
    return out;
  }
}

/** A derived device over its lab's other devices. */
export class DerivedDevice implements Device {
  readonly driver = "derived";
  readonly address: string;
  readonly #attrs: Attr[];
  readonly #exprs = new Map<string, Expression>();
  readonly #plans = new Map<string, DerivedPlan>();

  /** The device `name` with `specs`, reading other devices through `peer`. */
  constructor(
    readonly name: string,
    specs: readonly DerivedAttrConfig[],
    readonly peer: (name: string) => PeerDevice | undefined,
  ) {
    this.address = `derived://${name}`;
    this.#attrs = specs.map((s) => {
      const expr = parseExpression(s.expr);
      this.#exprs.set(s.name, expr);
      return attr(s.name, expr.type, {
        units: s.units,
        precision: s.precision,
        description: s.description ?? `derived: ${s.expr}`,
      });
    });
  }

  /** Its attributes (read-only, typed by their expressions). */
  attrs(): Promise<Attr[]> {
    return Promise.resolve(this.#attrs);
  }

  /** Reads the dependencies of `names` (default all), one read per device, and evaluates. */
  async read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    const wanted = names ?? this.#attrs.map((a) => a.name);
    const key = wanted.join("\u0000");
    let plan = this.#plans.get(key);
    if (!plan) {
      plan = new DerivedPlan(wanted, this.#exprs);
      if (this.#plans.size < 64) this.#plans.set(key, plan);
    }
    const devices = [...plan.reads.keys()];
    const got = await Promise.all(devices.map(async (d) => {
      const peer = this.peer(d);
      if (!peer) throw new DeviceError(`${this.name} reads ${d}, which is not open`, this.name);
      try {
        return await peer.read(plan.reads.get(d)!, { ...opts, quiet: true });
      } catch (err) {
        throw new DeviceError(`reading ${d}: ${errorMessage(err)}`, this.name, { cause: err });
      }
    }));
    const values = new Map(devices.map((d, i) => [d, got[i]!]));
    const out: Values = {};
    for (const n of wanted) if (!this.#exprs.has(n)) out[n] = null;
    return plan.evaluate(values, out);
  }

  /** Derived attributes are computed, never written. */
  write(name: string): Promise<void> {
    return Promise.reject(
      new UsageError(
        `${this.name}.${name} is derived (computed from other attributes); it is read-only`,
      ),
    );
  }

  /** No techniques beyond sampling. */
  techniques(): string[] {
    return [];
  }

  /** Nothing to close: the devices it reads belong to the lab. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The `derived://` driver: opens the `[derived.NAME]` devices of a config, inside a lab. */
export const derivedDriver: Driver = {
  ...DERIVED_INFO,
  open(address, ctx) {
    const attrs = ctx.options.attrs as DerivedAttrConfig[] | undefined;
    if (!attrs || !ctx.peer) {
      return Promise.reject(
        new UsageError(
          `${address.text}: a derived device is declared in the config`,
          `add [derived.${address.target || "NAME"}] with attr = "device.attr * 2" to labwire.toml`,
        ),
      );
    }
    return Promise.resolve(new DerivedDevice(ctx.name, attrs, ctx.peer));
  },
};
