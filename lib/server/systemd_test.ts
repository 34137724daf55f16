import assert from "node:assert/strict";
import { systemdUnit } from "./systemd.ts";

Deno.test("the unit is hardened, restarts on failure and keeps the session in StateDirectory", () => {
  const unit = systemdUnit({
    exec: "/usr/local/bin/labwire",
    config: "/etc/labwire/labwire.toml",
    listen: "0.0.0.0:8600",
    tokenFile: "/etc/labwire/token",
  });
  for (
    const line of [
      "DynamicUser=yes",
      "StateDirectory=labwire",
      "Restart=on-failure",
      "ProtectSystem=strict",
      "NoNewPrivileges=yes",
      "PrivateTmp=yes",
      "LoadCredential=token:/etc/labwire/token",
      "WantedBy=multi-user.target",
    ]
  ) assert.ok(unit.split("\n").includes(line), line);
  const exec = unit.split("\n").find((l) => l.startsWith("ExecStart="))!;
  assert.equal(
    exec,
    "ExecStart=/usr/local/bin/labwire serve --config /etc/labwire/labwire.toml --listen 0.0.0.0:8600 " +
      "--session /var/lib/labwire/labwire.session.sqlite --token-file ${CREDENTIALS_DIRECTORY}/token",
  );
  assert.ok(!unit.includes("MemoryDenyWriteExecute=yes"), "V8 needs W+X pages");
});

Deno.test("serial devices are allowed explicitly", () => {
  const unit = systemdUnit({
    exec: "/x",
    config: "/c",
    listen: "127.0.0.1:8600",
    devices: ["/dev/ttyUSB0"],
  });
  assert.ok(unit.includes("DeviceAllow=/dev/ttyUSB0 rw"));
  assert.ok(!unit.includes("PrivateDevices=yes"));
  assert.ok(!unit.includes("LoadCredential"));
});
