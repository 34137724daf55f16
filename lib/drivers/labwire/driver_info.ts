/**
 * The `labwire://` and `labwire+https://` device drivers as the registry knows them before
 * `./driver.ts` loads: scheme, help text, options and the default device name (the remote
 * device's name).
 *
 * @module
 */
import type { Address } from "../../device/address.ts";
import { durationOption, textOption } from "../../config/options.ts";
import { TIMEOUT_RULE } from "../../config/duration.ts";
import type { DriverInfo, DriverOptions } from "../../device/registry.ts";

function options(scheme: string): DriverOptions {
  const rules: DriverOptions["rules"] = {
    timeout: durationOption(TIMEOUT_RULE),
    token_file: textOption("expected the path of a file holding the remote daemon's token"),
  };
  if (scheme === "labwire+https") {
    rules.ca_file = textOption("expected the path of a PEM file with the daemon's CA");
  }
  return { owner: `${scheme}://`, rules };
}

function defaultName(address: Address): string {
  const slash = address.target.indexOf("/");
  const device = slash < 0 ? "" : address.target.slice(slash + 1).replace(/\/+$/, "");
  return device || "remote";
}

/** `labwire://HOST[:8600]/DEVICE` without its `open`. */
export const LABWIRE_INFO: DriverInfo = {
  scheme: "labwire",
  summary: "a device served by another labwire serve (HTTP API, live over its event stream)",
  example: "labwire://10.0.0.7:8600/gauge",
  descriptors: "shared",
  defaultName,
  options: () => options("labwire"),
};

/** `labwire+https://HOST[:8600]/DEVICE` (TLS) without its `open`. */
export const LABWIRE_HTTPS_INFO: DriverInfo = {
  scheme: "labwire+https",
  summary: "the same over HTTPS (ca_file for a self-signed certificate)",
  example: "labwire+https://pc7.lab:8600/gauge?ca_file=/etc/labwire/pc7.pem",
  descriptors: "shared",
  defaultName,
  options: () => options("labwire+https"),
};
