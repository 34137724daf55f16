import assert from "node:assert/strict";
import { alignColumns } from "./columns.ts";

Deno.test("alignColumns: columns start at the same offset on every line, numbers right-aligned", () => {
  const lines = alignColumns(
    [
      ["1", "done", "5/5 points", "labwire scan motor 0 1 5 det"],
      ["12", "interrupted", "3/100 points", "labwire scan motor 0 1 100 det"],
    ],
    { right: [0], indent: "  " },
  );
  assert.deepEqual(lines, [
    "   1  done         5/5 points    labwire scan motor 0 1 5 det",
    "  12  interrupted  3/100 points  labwire scan motor 0 1 100 det",
  ]);
  assert.deepEqual(alignColumns([["a", ""], ["bbb", ""]]), ["a", "bbb"]);
  assert.deepEqual(alignColumns([]), []);
});
