/**
 * Loopback-first Channel Access across a real network boundary: `labwire serve` (a process,
 * started by a `[ca]` section alone) binds its CA server on the host side of a veth pair, and
 * the reference `caget`/`caput` run inside a network namespace on the other side, so the
 * server sees a genuine non-loopback client address. Reads work; writes are refused by
 * default (the channel's access rights say read-only and caput reports it) and allowed once
 * the config grants that host.
 *
 * Needs root and `ip` (iproute2) for the namespace, and the reference EPICS tools. Addresses
 * come from 198.18.0.0/15 (benchmarking range), names and subnet from the pid, and everything
 * is removed in a finally.
 */
import assert from "node:assert/strict";
import { EPICS_BIN, findProgram, peerTest, runTool, type ToolResult } from "../peers.ts";
import { spawnServe } from "../e2e/labwire_process.ts";

const TOOLS = ["caget", "caput", "caRepeater"];

function missing(): string[] {
  const out = TOOLS.filter((t) => !findProgram(`${EPICS_BIN}/${t}`)).map((t) =>
    `${EPICS_BIN}/${t}`
  );
  if (!findProgram("ip", ["/usr/sbin", "/sbin"])) out.push("ip (iproute2)");
  if (Deno.uid() !== 0) out.push("root (to create a network namespace)");
  return out;
}

/** Runs a command to completion; throws with its stderr when it fails. */
async function sh(program: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(program, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${program} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A namespace joined to this host by a veth pair: host side `.1/30`, namespace side `.2/30`. */
interface Netns {
  name: string;
  hostAddr: string;
  nsAddr: string;
  /** Runs a reference EPICS tool inside the namespace, pointed at `hostAddr:port`. */
  tool(name: string, args: string[], port: number): Promise<ToolResult>;
  remove(): Promise<void>;
}

let serial = 0;

async function createNetns(): Promise<Netns> {
  const ip = findProgram("ip", ["/usr/sbin", "/sbin"])!;
  const id = `${Deno.pid}${serial++}`;
  const name = `lwca${id}`;
  const hostIf = `lwh${id}`.slice(0, 15);
  const nsIf = `lwn${id}`.slice(0, 15);
  // One /30 of 198.18.0.0/15 per pid and test, so parallel runs do not share a subnet.
  const block = ((Deno.pid * 8 + serial) % 32768) * 4;
  const base = (198 << 24 | 18 << 16) + block;
  const addr = (n: number) =>
    [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
  const hostAddr = addr(base + 1);
  const nsAddr = addr(base + 2);
  let repeater: Deno.ChildProcess | undefined;
  const remove = async () => {
    if (repeater) {
      try {
        repeater.kill("SIGKILL");
      } catch { /* gone */ }
      await repeater.status;
    }
    // Any other process a tool left in our namespace (libca may spawn its own caRepeater).
    const pids = await new Deno.Command(ip, { args: ["netns", "pids", name], stderr: "null" })
      .output();
    for (const pid of new TextDecoder().decode(pids.stdout).split(/\s+/).filter(Boolean)) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch { /* gone */ }
    }
    // cleanup: a namespace or link that is already gone is fine
    await sh(ip, ["link", "del", hostIf]).catch(() => {});
    // cleanup: a namespace or link that is already gone is fine
    await sh(ip, ["netns", "del", name]).catch(() => {});
  };
  try {
    await sh(ip, ["netns", "add", name]);
    await sh(ip, ["link", "add", hostIf, "type", "veth", "peer", "name", nsIf]);
    await sh(ip, ["link", "set", nsIf, "netns", name]);
    await sh(ip, ["addr", "add", `${hostAddr}/30`, "dev", hostIf]);
    await sh(ip, ["link", "set", hostIf, "up"]);
    await sh(ip, ["netns", "exec", name, "ip", "addr", "add", `${nsAddr}/30`, "dev", nsIf]);
    await sh(ip, ["netns", "exec", name, "ip", "link", "set", nsIf, "up"]);
    await sh(ip, ["netns", "exec", name, "ip", "link", "set", "lo", "up"]);
    // Our own repeater in the namespace, so the tools do not spawn one we would not know of.
    repeater = new Deno.Command(ip, {
      args: ["netns", "exec", name, `${EPICS_BIN}/caRepeater`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await new Promise((r) => setTimeout(r, 300));
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    name,
    hostAddr,
    nsAddr,
    tool: (tool, args, port) =>
      runTool(ip, ["netns", "exec", name, `${EPICS_BIN}/${tool}`, ...args], {
        env: {
          PATH: `${EPICS_BIN}:/usr/sbin:/usr/bin:/sbin:/bin`,
          EPICS_CA_AUTO_ADDR_LIST: "NO",
          EPICS_CA_ADDR_LIST: hostAddr,
          EPICS_CA_SERVER_PORT: String(port),
        },
        timeoutMs: 20_000,
      }),
    remove,
  };
}

/** `labwire serve CONFIG` until it says it is serving; the CA start-up line and port. */
async function spawnCaServe(config: string, dir: string, env: Record<string, string> = {}) {
  await Deno.writeTextFile(`${dir}/lab.toml`, config);
  const p = await spawnServe([`${dir}/lab.toml`, "--session", `${dir}/s.sqlite`], { env });
  const start = p.lines.find((l) => /CA server: /.test(l)) ?? "";
  const port = Number(/ port (\d+)/.exec(start)?.[1] ?? NaN);
  return { start, port, lines: p.lines, stop: () => p.stop() };
}

const BENCH = `
[devices.thermo]
address = "sim://thermo?seed=2"
interval = "200ms"
`;

peerTest(
  "CA across a network boundary: reads work, writes need a grant for that host",
  missing,
  async () => {
    const ns = await createNetns();
    const dir = await Deno.makeTempDir({ prefix: "labwire-netns-" });
    try {
      // 1. [ca] alone (no --ca) on the veth address: read-only beyond loopback by default.
      const ro = await spawnCaServe(
        BENCH + `[ca]\nprefix = "NS:"\nport = 0\ninterfaces = ["${ns.hostAddr}"]\n`,
        dir,
      );
      try {
        assert.ok(ro.port > 0, `no CA start-up line:\n${ro.lines.join("\n")}`);
        assert.match(ro.start, new RegExp(`on ${ns.hostAddr.replaceAll(".", "\\.")} port`));
        assert.match(ro.start, /clients on loopback may write; others are read-only/);
        const get = await ns.tool("caget", ["-w", "5", "NS:thermo:setpoint"], ro.port);
        assert.equal(get.code, 0, get.err + get.out);
        assert.match(get.out, /^NS:thermo:setpoint\s+25\b/);
        const put = await ns.tool("caput", ["-w", "5", "NS:thermo:setpoint", "42"], ro.port);
        assert.notEqual(put.code, 0, put.out);
        assert.match(put.err + put.out, /Write access denied/);
        const after = await ns.tool("caget", ["-w", "5", "NS:thermo:setpoint"], ro.port);
        assert.match(after.out, /^NS:thermo:setpoint\s+25\b/);
      } finally {
        await ro.stop();
      }
      // 2. The interface from EPICS_CAS_INTF_ADDR_LIST, and a host rule granting the namespace.
      const rw = await spawnCaServe(
        BENCH + `[ca]\nprefix = "NS:"\nport = 0\nwrite_hosts = ["${ns.nsAddr}"]\n`,
        dir,
        { EPICS_CAS_INTF_ADDR_LIST: ns.hostAddr },
      );
      try {
        assert.ok(rw.port > 0, `no CA start-up line:\n${rw.lines.join("\n")}`);
        assert.match(rw.start, new RegExp(`on ${ns.hostAddr.replaceAll(".", "\\.")} port`));
        assert.match(rw.start, new RegExp(`loopback and ${ns.nsAddr.replaceAll(".", "\\.")}`));
        const put = await ns.tool("caput", ["-c", "-w", "5", "NS:thermo:setpoint", "42"], rw.port);
        assert.equal(put.code, 0, put.err + put.out);
        assert.match(put.out, /New : NS:thermo:setpoint\s+42\b/);
        const get = await ns.tool("caget", ["-w", "5", "NS:thermo:setpoint"], rw.port);
        assert.match(get.out, /^NS:thermo:setpoint\s+42\b/);
      } finally {
        await rw.stop();
      }
    } finally {
      await ns.remove();
      // cleanup: a temporary file already gone is fine
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
);
