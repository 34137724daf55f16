/**
 * The systemd unit `labwire serve --print-systemd-unit` prints: a dynamic user, the session in
 * the unit's own StateDirectory, a read-only view of the rest of the system, restart on failure.
 *
 * @module
 */

/** What the unit needs to know. */
export interface UnitOptions {
  /** Absolute path of the labwire executable. */
  exec: string;
  /** Config file the service reads. */
  config: string;
  /** Listen address. */
  listen: string;
  /** Token file (needed when listening beyond loopback). */
  tokenFile?: string;
  /** Serial devices the service may open, e.g. /dev/ttyUSB0. */
  devices?: string[];
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
  const args = [
    o.exec,
    "serve",
    "--config",
    o.config,
    "--listen",
    o.listen,
    "--session",
    "/var/lib/labwire/labwire.session.sqlite",
  ];
  if (o.tokenFile) args.push("--token-file", "${CREDENTIALS_DIRECTORY}/token");
  const quoted = args.map((a) => (/[\s"'\\]/.test(a) ? `"${a.replace(/(["\\])/g, "\\$1")}"` : a));
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
    "# The session file lives in /var/lib/labwire, owned by the dynamic user.",
    "WorkingDirectory=/var/lib/labwire",
    "StateDirectory=labwire",
    "StateDirectoryMode=0750",
    "DynamicUser=yes",
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
