import assert from "node:assert/strict";
import {
  alarmsTopic,
  daemonStateTopic,
  deviceStateTopic,
  parseSetTopic,
  readingTopic,
  resultTopic,
  setFilter,
  setValue,
  valueTopic,
} from "./topics.ts";

Deno.test("the topic layout under a prefix", () => {
  assert.equal(daemonStateTopic("lab/pc1"), "lab/pc1/$state");
  assert.equal(deviceStateTopic("lab/pc1", "gauge"), "lab/pc1/gauge/$state");
  assert.equal(readingTopic("lab/pc1", "gauge"), "lab/pc1/gauge");
  assert.equal(valueTopic("lab/pc1", "gauge", "pressure"), "lab/pc1/gauge/pressure");
  assert.equal(resultTopic("lab/pc1", "motor", "position"), "lab/pc1/motor/position/result");
  assert.equal(alarmsTopic("labwire"), "labwire/$alarms");
  assert.equal(setFilter("labwire"), "labwire/+/+/set");
});

Deno.test("parseSetTopic takes PREFIX/DEVICE/ATTR/set and nothing else", () => {
  assert.deepEqual(parseSetTopic("lab/pc1", "lab/pc1/motor/position/set"), {
    device: "motor",
    attr: "position",
  });
  assert.equal(parseSetTopic("lab/pc1", "lab/pc2/motor/position/set"), undefined);
  assert.equal(parseSetTopic("lab", "lab/motor/set"), undefined);
  assert.equal(parseSetTopic("lab", "lab/a/b/c/set"), undefined);
  assert.equal(parseSetTopic("lab", "lab/motor/position/result"), undefined);
});

Deno.test("setValue reads JSON, or keeps bare text as a string", () => {
  assert.equal(setValue("12.5"), 12.5);
  assert.equal(setValue("true"), true);
  assert.deepEqual(setValue("[1,2]"), [1, 2]);
  assert.equal(setValue('"on"'), "on");
  assert.equal(setValue("idle"), "idle");
});
