/**
 * A real mosquitto for the MQTT tests: started on a free loopback port with a generated config
 * (anonymous, or with a password file and an ACL), restartable on the same port, and
 * `mosquitto_sub`/`mosquitto_pub` as independent clients.
 *
 * @module
 */
import { findProgram, runTool, type ToolResult } from "../peers.ts";

/** Where Debian puts the broker (not on a user's PATH). */
const MOSQUITTO_DIRS = ["/usr/sbin"];

/** The peers the MQTT tests need that are absent. */
export function missingMqttPeers(): string[] {
  const need: [string, string[]][] = [
    ["mosquitto", MOSQUITTO_DIRS],
    ["mosquitto_sub", []],
    ["mosquitto_pub", []],
    ["mosquitto_passwd", []],
  ];
  return need.filter(([p, dirs]) => findProgram(p, dirs) === undefined).map(([p]) => p);
}

/** A user of a broker with a password file, and the topics it may use. */
export interface BrokerUser {
  /** Username. */
  name: string;
  /** Password. */
  password: string;
  /** ACL lines for this user, e.g. `topic readwrite lab/#`. */
  acl: string[];
}

/** A running broker. */
export interface Broker {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Its `mqtt://127.0.0.1:PORT` URL. */
  url: string;
  /** Stops it (SIGTERM) and waits. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after {@linkcode Broker.stop}). */
  start(): Promise<void>;
  /** Its process id while running. */
  pid(): number | undefined;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitForPort(port: number, guardMs = 10_000): Promise<void> {
  const until = Date.now() + guardMs;
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`mosquitto did not listen on ${port}: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Starts mosquitto in `dir`: anonymous when `users` is absent, else password file + ACL. With
 * `persist`, sessions survive a restart (a persistent subscriber keeps its subscription and gets
 * what was published while it was away, QoS 0 included). With `tls`, it speaks MQTT over TLS
 * only (`mqtts://`).
 */
export async function startBroker(
  dir: string,
  users?: BrokerUser[],
  persist = false,
  tls?: { cert: string; key: string },
): Promise<Broker> {
  const port = freePort();
  // Started as root (CI), mosquitto would drop to the `mosquitto` user, who cannot read the
  // test's private temporary folder: it keeps the user it was started as.
  const lines = [`listener ${port} 127.0.0.1`, "user root"];
  // TLS (mqtts://): the test's certificate, which clients trust as their CA.
  if (tls) lines.push(`certfile ${tls.cert}`, `keyfile ${tls.key}`, `cafile ${tls.cert}`);
  if (persist) {
    lines.push("persistence true", `persistence_location ${dir}/`, "queue_qos0_messages true");
  } else lines.push("persistence false");
  if (users) {
    const passwd = `${dir}/passwd`;
    await Deno.writeTextFile(passwd, "");
    for (const u of users) {
      const r = await runTool(findProgram("mosquitto_passwd")!, ["-b", passwd, u.name, u.password]);
      if (r.code !== 0) throw new Error(`mosquitto_passwd: ${r.err}`);
    }
    await Deno.chmod(passwd, 0o600);
    await Deno.writeTextFile(
      `${dir}/acl`,
      users.map((u) => [`user ${u.name}`, ...u.acl, ""].join("\n")).join("\n"),
    );
    await Deno.chmod(`${dir}/acl`, 0o600);
    lines.push("allow_anonymous false", `password_file ${passwd}`, `acl_file ${dir}/acl`);
  } else {
    lines.push("allow_anonymous true");
  }
  await Deno.writeTextFile(`${dir}/mosquitto.conf`, lines.join("\n") + "\n");
  const program = findProgram("mosquitto", MOSQUITTO_DIRS)!;
  let child: Deno.ChildProcess | undefined;
  const broker: Broker = {
    port,
    url: `${tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    pid: () => child?.pid,
    async start() {
      child = new Deno.Command(program, {
        args: ["-c", `${dir}/mosquitto.conf`],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      await Promise.race([
        waitForPort(port),
        child.status.then((st) => {
          throw new Error(`mosquitto exited (${st.code}); config:\n${lines.join("\n")}`);
        }),
      ]);
    },
    async stop() {
      if (!child) return;
      child.kill("SIGTERM");
      await child.status;
      child = undefined;
    },
  };
  await broker.start();
  return broker;
}

/** Client credentials for mosquitto_sub/pub. */
export interface Login {
  /** Username. */
  user: string;
  /** Password. */
  password: string;
}

function loginArgs(login?: Login): string[] {
  return login ? ["-u", login.user, "-P", login.password] : [];
}

/**
 * `mosquitto_sub -F '%r %t %p'` for `count` messages (or until `waitS` of silence): each line is
 * `RETAIN TOPIC PAYLOAD`.
 */
export async function sub(
  broker: Broker,
  topics: string[],
  opts: { count: number; waitS?: number; login?: Login; retainedOnly?: boolean },
): Promise<{ retained: boolean; topic: string; payload: string }[]> {
  const r = await runTool(findProgram("mosquitto_sub")!, [
    "-h",
    "127.0.0.1",
    "-p",
    String(broker.port),
    ...loginArgs(opts.login),
    ...topics.flatMap((t) => ["-t", t]),
    "-C",
    String(opts.count),
    "-W",
    String(opts.waitS ?? 10),
    ...(opts.retainedOnly ? ["--retained-only"] : []),
    "-F",
    "%r %t %p",
  ], { timeoutMs: ((opts.waitS ?? 10) + 5) * 1000 });
  return r.out.split("\n").filter((l) => l !== "").map((l) => {
    const [r0, topic, ...rest] = l.split(" ");
    return { retained: r0 === "1", topic: topic!, payload: rest.join(" ") };
  });
}

/** A `mosquitto_sub` left running in the background: its lines so far, and a way to stop it. */
export interface Subscriber {
  /** `RETAIN TOPIC PAYLOAD` lines received so far, with the time each arrived (ms). */
  lines: { at: number; retained: boolean; topic: string; payload: string }[];
  /** Stops it. */
  stop(): Promise<void>;
}

/**
 * Starts `mosquitto_sub` on `topics` and collects what it prints until stopped. With `session`
 * (a client id) it has a persistent session at QoS 1, and reconnects across a broker restart.
 */
export function subscribe(
  broker: Broker,
  topics: string[],
  login?: Login,
  session?: string,
): Subscriber {
  const child = new Deno.Command(findProgram("mosquitto_sub")!, {
    args: [
      "-h",
      "127.0.0.1",
      "-p",
      String(broker.port),
      ...loginArgs(login),
      ...(session ? ["-c", "-i", session, "-q", "1"] : []),
      ...topics.flatMap((t) => ["-t", t]),
      "-F",
      "%r %t %p",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: Subscriber["lines"] = [];
  let buf = "";
  const done = child.stdout.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(chunk) {
        buf += chunk;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        const at = Date.now();
        for (const l of parts) {
          const [r0, topic, ...rest] = l.split(" ");
          lines.push({ at, retained: r0 === "1", topic: topic!, payload: rest.join(" ") });
        }
      },
    }),
  );
  return {
    lines,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await done;
    },
  };
}

/** `mosquitto_pub -t TOPIC -m PAYLOAD`. */
export function pub(
  broker: Broker,
  topic: string,
  payload: string,
  login?: Login,
): Promise<ToolResult> {
  return runTool(findProgram("mosquitto_pub")!, [
    "-h",
    "127.0.0.1",
    "-p",
    String(broker.port),
    ...loginArgs(login),
    "-q",
    "1",
    "-t",
    topic,
    "-m",
    payload,
  ]);
}
