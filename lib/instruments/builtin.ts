/**
 * The built-in instrument definitions, embedded in the binary as text (`deno compile` keeps
 * `import … with { type: "text" }`; nothing is read from disk at run time).
 *
 * @module
 */
import alicat from "./defs/alicat.toml" with { type: "text" };
import keysight34461a from "./defs/keysight-34461a.toml" with { type: "text" };
import keysight34465a from "./defs/keysight-34465a.toml" with { type: "text" };
import keysightE36312a from "./defs/keysight-e36312a.toml" with { type: "text" };
import lakeshore336 from "./defs/lakeshore-336.toml" with { type: "text" };
import omegaCn7500 from "./defs/omega-cn7500.toml" with { type: "text" };
import pfeifferTpg36x from "./defs/pfeiffer-tpg36x.toml" with { type: "text" };
import rigolDp832 from "./defs/rigol-dp832.toml" with { type: "text" };
import scpi from "./defs/scpi.toml" with { type: "text" };
import vacomMg15 from "./defs/vacom-mg15.toml" with { type: "text" };
import watlowEzZonePm from "./defs/watlow-ez-zone-pm.toml" with { type: "text" };

/** File name → TOML text of every built-in definition. */
export const BUILTIN_DEFINITIONS: Record<string, string> = {
  "alicat.toml": alicat,
  "keysight-34461a.toml": keysight34461a,
  "keysight-34465a.toml": keysight34465a,
  "keysight-e36312a.toml": keysightE36312a,
  "lakeshore-336.toml": lakeshore336,
  "omega-cn7500.toml": omegaCn7500,
  "pfeiffer-tpg36x.toml": pfeifferTpg36x,
  "rigol-dp832.toml": rigolDp832,
  "scpi.toml": scpi,
  "vacom-mg15.toml": vacomMg15,
  "watlow-ez-zone-pm.toml": watlowEzZonePm,
};
