import assert from "node:assert/strict";
import { DeviceError } from "../device/errors.ts";
import { MessageLine } from "./message.ts";
import { sharedLine } from "./shared_line.ts";
import { openTcp } from "./tcp.ts";

Deno.test("sharedLine with the same key returns the same line", () => {
  let made = 0;
  const make = () => {
    made++;
    return new MessageLine(openTcp("127.0.0.1", 9));
  };
  const x = sharedLine("test://k", "s", make);
  const y = sharedLine("test://k", "s", make);
  assert.equal(x, y);
  assert.equal(made, 1);
  x.close();
  y.close();
  assert.equal(x.closed, true);
});

Deno.test("sharedLine refuses other settings on a port in use, naming both", () => {
  const make = () => new MessageLine(openTcp("127.0.0.1", 9));
  const x = sharedLine("test://other", "9600 8N1", make);
  assert.throws(
    () => sharedLine("test://other", "19200 8N1", make),
    (err: Error) =>
      err instanceof DeviceError && err.message.includes("9600 8N1") &&
      err.message.includes("19200 8N1"),
  );
  x.close();
  assert.equal(x.closed, true);
});
