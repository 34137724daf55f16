/**
 * Beacons of the CA server: where they go (`EPICS_CAS_BEACON_ADDR_LIST`, then with
 * `EPICS_CAS_AUTO_BEACON_ADDR_LIST` the broadcast address of each interface listened on, or the
 * local repeater when the server listens on loopback only) and the sender, fast at start (20 ms)
 * doubling up to the beacon period, as rsrv: clients that lost the server search again at once.
 *
 * @module
 */
import type dgram from "node:dgram";
import { broadcastOf, ipFromString } from "../../device/ipv4.ts";
import { CA_MINOR_VERSION } from "../../drivers/epics/messages.ts";
import { encodeMessage } from "../../drivers/epics/protocol.ts";
import { isLoopback } from "../listen.ts";
import { hostAndPort } from "./options.ts";
import { bindUdp, closeUdp } from "./sockets.ts";

/** A beacon destination. */
export interface BeaconDestination {
  /** Host or IPv4 address. */
  host: string;
  /** UDP port (the repeater port). */
  port: number;
}

/** Broadcast addresses of the IPv4 interfaces (those in `only`, when given). */
function broadcastAddresses(only: readonly string[] | undefined): string[] {
  const out = new Set<string>();
  let list: Deno.NetworkInterfaceInfo[] = [];
  try {
    list = Deno.networkInterfaces();
  } catch {
    // No permission to list interfaces: beacons go to the configured addresses only.
    return [];
  }
  for (const i of list) {
    if (i.family !== "IPv4" || i.address.startsWith("127.")) continue;
    if (only && !only.includes(i.address)) continue;
    const b = broadcastOf(i.address, i.netmask);
    if (b !== undefined) out.add(b);
  }
  return [...out];
}

/** Where beacons go, from the options of the server and the interfaces it listens on. */
export function beaconDestinations(opts: {
  beaconAddrs?: readonly string[];
  beaconPort: number;
  autoBeacon?: boolean;
  interfaces: readonly string[];
}): BeaconDestination[] {
  const { beaconPort, interfaces } = opts;
  const destinations = (opts.beaconAddrs ?? []).map((a) => hostAndPort(a, beaconPort));
  if (opts.autoBeacon ?? true) {
    if (interfaces.every(isLoopback) && destinations.length === 0) {
      // Nobody beyond this host can hear us: tell the local repeater, for fast reconnects.
      destinations.push({ host: "127.0.0.1", port: beaconPort });
    } else {
      const only = interfaces.includes("0.0.0.0") ? undefined : interfaces;
      for (const host of broadcastAddresses(only)) destinations.push({ host, port: beaconPort });
    }
  }
  return destinations;
}

/** A running beacon sender. */
export interface Beacons {
  /** Stops sending and closes the socket. */
  close(): Promise<void>;
}

/**
 * Starts sending beacons announcing `tcpPort` to `destinations` from `interfaces[0]` (or every
 * interface for 0.0.0.0); `onSent` counts them.
 */
export async function startBeacons(opts: {
  destinations: readonly BeaconDestination[];
  interfaces: readonly string[];
  tcpPort: number;
  periodMs: number;
  onSent: () => void;
}): Promise<Beacons> {
  const wildcard = opts.interfaces.includes("0.0.0.0");
  const sock: dgram.Socket = await bindUdp(wildcard ? "0.0.0.0" : opts.interfaces[0]!, 0);
  sock.setBroadcast(true);
  // A destination that cannot be reached (no route, no repeater) is not worth a log line a beacon.
  sock.on("error", () => {});
  const beaconIp = wildcard ? 0 : ipFromString(opts.interfaces[0]!) ?? 0;
  let closed = false;
  let delay = 20;
  let id = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = () => {
    if (closed) return;
    const msg = encodeMessage({
      kind: "beacon",
      minor: CA_MINOR_VERSION,
      port: opts.tcpPort,
      beaconId: id++,
      ip: beaconIp,
    });
    for (const d of opts.destinations) sock.send(msg, d.port, d.host, () => {});
    opts.onSent();
    delay = Math.min(delay * 2, opts.periodMs);
    timer = setTimeout(send, delay);
  };
  timer = setTimeout(send, 0);
  return {
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await closeUdp(sock);
    },
  };
}
