/**
 * `labwire://HOST[:8600]/DEVICE` (and `labwire+https://`): a device served by another labwire
 * `serve`, so one central daemon can record, chart, alarm and serve over CA the devices of a
 * whole lab. Its attributes are the remote's declarations (`GET /api/devices/DEVICE`), so a
 * write is validated here before it is sent (and again by the remote); a read is
 * `GET /api/devices/DEVICE/read`; a write `PUT …/attrs/ATTR` with the bearer token (`token_file`
 * or `LABWIRE_TOKEN`, as `labwire task` takes it). The device pushes every reading the remote
 * takes (`pushes`): `stream` and the samplers of `serve` and `monitor` follow the remote's event
 * stream instead of polling, one stream per remote daemon ({@linkcode DaemonLink}). A remote
 * that goes away is an error reading per reconnect attempt, and the readings come back when it
 * does.
 *
 * ```toml
 * [devices.pc7_gauge]
 * address = "labwire://10.0.0.7:8600/gauge"
 * token_file = "/etc/labwire/pc7.token"   # for writes; or LABWIRE_TOKEN
 * ```
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import type { Attr, Value, Values } from "../../device/attr.ts";
import type { CallOptions, Device, Subscription } from "../../device/device.ts";
import { DeviceError } from "../../device/errors.ts";
import type { Driver, OpenContext } from "../../device/registry.ts";
import { loadToken } from "../../config/token.ts";
import { LABWIRE_HTTPS_INFO, LABWIRE_INFO } from "./driver_info.ts";
import { DaemonLink } from "./link.ts";
import { attrsFromDetail, parseTarget, readingFrom } from "./protocol.ts";
import { fileOption } from "../../config/beside_config.ts";
import { readNamedFile } from "../../config/named_file.ts";

/** Default per-call timeout, ms. */
const DEFAULT_TIMEOUT_MS = 5000;

/** A device of another labwire daemon (see the module doc). */
export class LabwireDevice implements Device {
  /** Samplers follow its event stream instead of polling it. */
  readonly pushes = true;
  #attrs: Attr[] | undefined;
  /** The link's `reopened` when `#attrs` was fetched. */
  #attrsEpoch = -1;
  readonly #path: string;

  /** The remote device `remote` on `link`, named `name` here. */
  constructor(
    readonly name: string,
    readonly address: string,
    readonly driver: string,
    readonly remote: string,
    readonly link: DaemonLink,
    readonly timeout: number,
  ) {
    this.#path = `/api/devices/${encodeURIComponent(remote)}`;
  }

  /** Changes when the remote daemon came back (maybe with another config). */
  get attrsEpoch(): number {
    return this.link.reopened;
  }

  async attrs(opts?: CallOptions): Promise<Attr[]> {
    const epoch = this.link.reopened;
    if (this.#attrs && this.#attrsEpoch === epoch) return this.#attrs;
    const detail = await this.#call("GET", this.#path, opts);
    try {
      this.#attrs = attrsFromDetail(detail);
      this.#attrsEpoch = epoch;
    } catch (err) {
      throw new DeviceError(
        `${this.link.base} has no attributes of ${this.remote}: ${(err as Error).message}`,
        this.name,
      );
    }
    return this.#attrs;
  }

  async read(names?: readonly string[], opts?: CallOptions): Promise<Values> {
    const query = names === undefined
      ? ""
      : `?attrs=${names.map((n) => encodeURIComponent(n)).join(",")}`;
    const body = await this.#call("GET", `${this.#path}/read${query}`, opts);
    try {
      return readingFrom(body).values;
    } catch (err) {
      throw new DeviceError(`${this.link.base}: ${(err as Error).message}`, this.name);
    }
  }

  async write(name: string, value: Value, opts?: CallOptions): Promise<void> {
    await this.#call("PUT", `${this.#path}/attrs/${encodeURIComponent(name)}`, opts, { value });
  }

  techniques(): string[] {
    return [];
  }

  /**
   * Hands on each reading of the remote device as its event stream brings it (the attributes
   * asked for, or all it sends), and an error reading per attempt while the stream is down.
   */
  subscribe(
    names: readonly string[] | undefined,
    onValues: (values: Values, t: number, error?: string) => void,
  ): Promise<Subscription> {
    const unfollow = this.link.follow(this.remote, (r) => {
      if (r.error !== undefined) return onValues({}, r.t, r.error);
      if (names === undefined) return onValues(r.values, r.t);
      const picked: Values = {};
      for (const n of names) if (n in r.values) picked[n] = r.values[n]!;
      onValues(picked, r.t);
    });
    return Promise.resolve({
      close: () => {
        unfollow();
        return Promise.resolve();
      },
    });
  }

  /** Releases this device's share of the link (the last one closes it). */
  async close(): Promise<void> {
    await releaseLink(this.link);
  }

  #call(method: string, path: string, opts?: CallOptions, body?: unknown): Promise<unknown> {
    return this.link.request(method, path, {
      body,
      timeout: opts?.timeout ?? this.timeout,
      signal: opts?.signal,
      device: this.name,
    });
  }
}

/** Links by daemon, token and CA: the devices of one daemon share one event stream. */
const links = new Map<string, DaemonLink>();

function shareLink(base: string, token: string | undefined, ca: string | undefined): DaemonLink {
  const key = JSON.stringify([base, token ?? "", ca ?? ""]);
  let link = links.get(key);
  if (!link) links.set(key, link = new DaemonLink({ base, token, ca }));
  link.users++;
  return link;
}

async function releaseLink(link: DaemonLink): Promise<void> {
  if (--link.users > 0) return;
  for (const [key, l] of links) if (l === link) links.delete(key);
  await link.close();
}

async function open(address: Address, ctx: OpenContext): Promise<Device> {
  const target = parseTarget(address.target);
  const info = address.scheme === "labwire+https" ? LABWIRE_HTTPS_INFO : LABWIRE_INFO;
  const rules = info.options!(address.target)!.rules;
  const path = (key: string) => fileOption(key, address, ctx, rules);
  const token = await loadToken(path("token_file"), Deno.env.get("LABWIRE_TOKEN"), "token_file");
  const caFile = path("ca_file");
  const ca = caFile === undefined ? undefined : await readNamedFile("ca_file", caFile);
  const tls = address.scheme === "labwire+https";
  const base = `${tls ? "https" : "http"}://${target.host}:${target.port}`;
  return new LabwireDevice(
    ctx.name,
    address.text,
    address.scheme,
    target.device,
    shareLink(base, token, ca),
    ctx.timeout ?? DEFAULT_TIMEOUT_MS,
  );
}

/** The `labwire://` driver. */
export const labwireDriver: Driver = { ...LABWIRE_INFO, open };
/** The `labwire+https://` driver. */
export const labwireHttpsDriver: Driver = { ...LABWIRE_HTTPS_INFO, open };
