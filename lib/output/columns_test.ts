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

Deno.test("alignColumns: a listing of 500,000 rows is aligned (the widths are found in a loop, not a spread)", () => {
  const rows = Array.from(
    { length: 500_000 },
    (_, i) => [String(i), i === 7 ? "widest" : "x", "z"],
  );
  const lines = alignColumns(rows, { right: [0] });
  assert.equal(lines.length, 500_000);
  assert.equal(lines[0], "     0  x       z");
  assert.equal(lines[7], "     7  widest  z");
  assert.equal(lines[499_999], "499999  x       z");
});
