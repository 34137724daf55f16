/**
 * The systemd unit `labwire serve --print-systemd-unit` prints: a dynamic user, the session in
 * the unit's own StateDirectory, a read-only view of the rest of the system, restart on failure.
 *
 * @module
 */

/** Where the service records when neither `--session` nor `[session] path` says. */
export const STATE_SESSION = "/var/lib/labwire/labwire.session.sqlite";

/** How ExecStart names the token handed over by `LoadCredential=`. */
export const CREDENTIAL_TOKEN = "${CREDENTIALS_DIRECTORY}/token";

/** Folders the unit's `ProtectHome=yes` and `PrivateTmp=yes` hide from the service. */
export const HIDDEN_FROM_SERVICE: readonly string[] = [
  "/home",
  "/root",
  "/run/user",
  "/tmp",
  "/var/tmp",
];

/**
 * The paths of `paths` the service cannot see (under {@linkcode HIDDEN_FROM_SERVICE}): a config
 * in a home folder or /tmp makes a unit that fails at start, so `--print-systemd-unit` says so.
 *
 * @example
 * ```ts
 * import { hiddenFromService } from "./systemd.ts";
 * hiddenFromService(["/etc/labwire/labwire.toml", "/home/ada/lab.toml"]); // ["/home/ada/lab.toml"]
 * ```
 */
export function hiddenFromService(paths: readonly string[]): string[] {
  return paths.filter((p) => HIDDEN_FROM_SERVICE.some((h) => p === h || p.startsWith(h + "/")));
}

/** What the unit needs to know. */
export interface UnitOptions {
  /** Absolute path of the labwire executable. */
  exec: string;
  /** Config file the service reads. */
  config: string;
  /** Listen address, only when given on the command line (else `[server] listen` decides). */
  listen?: string;
  /** Session file given on the command line (absolute). */
  session?: string;
  /** The config's `[session] path` decides where to record: no `--session` is emitted. */
  sessionInConfig?: boolean;
  /** Token file (needed when listening beyond loopback), handed over as a credential. */
  tokenFile?: string;
  /** Every other `serve` flag that shapes the service, as command-line words. */
  args?: readonly string[];
  /** Directories outside the state directory the service writes to (a session elsewhere). */
  readWritePaths?: readonly string[];
  /** Serial devices the service may open, e.g. /dev/ttyUSB0. */
  devices?: string[];
}

/**
 * Quotes one word for ExecStart: systemd splits on spaces, reads C-style escapes inside double
 * quotes and expands `%` specifiers and `$` variables, so literal `%` and `$` are doubled.
 *
 * @example
 * ```ts
 * import { quoteExecWord } from "./systemd.ts";
 * quoteExecWord("LAB %1"); // '"LAB %%1"'
 * ```
 */
export function quoteExecWord(word: string): string {
  const escaped = word.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /[\s"'\\;]/.test(escaped) || escaped === ""
    ? `"${escaped.replace(/(["\\])/g, "\\$1")}"`
    : escaped;
}

/**
 * Returns the unit file text.
 *
 * @example
 * ```ts
 * import { systemdUnit } from "./systemd.ts";
 * systemdUnit({ exec: "/usr/local/bin/labwire", config: "/etc/labwire/labwire.toml", listen: "127.0.0.1:8600" })
 *   .includes("DynamicUser=yes"); // true
 * ```
 */
export function systemdUnit(o: UnitOptions): string {
  const words = [o.exec, "serve", "--config", o.config];
  if (o.listen !== undefined) words.push("--listen", o.listen);
  if (o.session !== undefined) words.push("--session", o.session);
  else if (!o.sessionInConfig) words.push("--session", STATE_SESSION);
  const quoted = words.map(quoteExecWord);
  // The credential path is the one word whose `$` systemd must expand.
  if (o.tokenFile) quoted.push("--token-file", CREDENTIAL_TOKEN);
  quoted.push(...(o.args ?? []).map(quoteExecWord));
  const lines = [
    "# labwire instrument server. Install:",
    "#   labwire serve --print-systemd-unit --config /etc/labwire/labwire.toml > /etc/systemd/system/labwire.service",
    "#   systemctl daemon-reload && systemctl enable --now labwire",
    "#   journalctl -u labwire -f",
    "[Unit]",
    "Description=labwire instrument server (HTTP API, dashboard, recording)",
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=exec",
    `ExecStart=${quoted.join(" ")}`,
    "# systemctl reload labwire: the config's device changes, applied without a restart",
    "ExecReload=/bin/kill -HUP $MAINPID",
    "# Unless --session or [session] path says otherwise, the session file lives in",
    "# /var/lib/labwire, owned by the dynamic user.",
    "WorkingDirectory=/var/lib/labwire",
    "StateDirectory=labwire",
    "StateDirectoryMode=0750",
    "DynamicUser=yes",
    ...(o.readWritePaths ?? []).map((p) => `ReadWritePaths=${p}`),
    ...(o.tokenFile ? [`LoadCredential=token:${o.tokenFile}`] : []),
    "Restart=on-failure",
    "RestartSec=2s",
    "TimeoutStopSec=10s",
    "KillSignal=SIGTERM",
    "# Hardening: read-only system, private /tmp, no privilege escalation, no new devices.",
    "# (No MemoryDenyWriteExecute: the JavaScript engine compiles code at run time.)",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "RemoveIPC=yes",
    "CapabilityBoundingSet=",
    "AmbientCapabilities=",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "SystemCallArchitectures=native",
    "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged",
    "UMask=0027",
    ...(o.devices && o.devices.length > 0
      ? [
        "# Serial instruments:",
        "SupplementaryGroups=dialout",
        ...o.devices.map((d) => `DeviceAllow=${d} rw`),
      ]
      : ["PrivateDevices=yes"]),
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ];
  return lines.join("\n");
}
