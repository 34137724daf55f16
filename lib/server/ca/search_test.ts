import assert from "node:assert/strict";
import { concatBytes, decodeDatagram } from "../../drivers/epics/framing.ts";
import { decodeMessage, encodeMessage } from "../../drivers/epics/protocol.ts";
import { searchReplies } from "./search.ts";

function ask(names: string[], reply = false): Uint8Array {
  return concatBytes([
    encodeMessage({ kind: "version", priority: 1, minor: 13, sequence: 9 }),
    ...names.map((name, i) =>
      encodeMessage({ kind: "search", reply, minor: 13, cid: i + 1, name })
    ),
  ]);
}

Deno.test("searches are answered for served names only, after a VERSION echoing the sequence", () => {
  const served = (n: string) => n.startsWith("LAB:");
  const { datagrams, answered } = searchReplies(
    ask(["LAB:a", "OTHER:b", "LAB:c"]),
    served,
    5064,
    0xffffffff,
  );
  assert.equal(answered, 2);
  assert.equal(datagrams.length, 1);
  const msgs = decodeDatagram(datagrams[0]!).map((r) => decodeMessage(r, "to_client"));
  assert.deepEqual(msgs, [
    { kind: "version", priority: 1, minor: 13, sequence: 9 },
    { kind: "search_resp", port: 5064, ip: 0xffffffff, cid: 1, minor: 13 },
    { kind: "search_resp", port: 5064, ip: 0xffffffff, cid: 3, minor: 13 },
  ]);
  assert.deepEqual(searchReplies(ask(["OTHER:b"]), served, 5064, 0).datagrams, [], "silence");
  const notFound = searchReplies(ask(["OTHER:b"], true), served, 5064, 0).datagrams;
  assert.equal(decodeMessage(decodeDatagram(notFound[0]!)[1]!, "to_client").kind, "not_found");
  assert.deepEqual(searchReplies(new Uint8Array([1, 2, 3]), served, 5064, 0).answered, 0);
});

Deno.test("many answers are split into datagrams of at most 1024 bytes", () => {
  const names = Array.from({ length: 300 }, (_, i) => `LAB:pv${i}`);
  const { datagrams, answered } = searchReplies(ask(names), () => true, 5064, 0xffffffff);
  assert.equal(answered, 300);
  assert.ok(datagrams.length > 1);
  let replies = 0;
  for (const d of datagrams) {
    assert.ok(d.length <= 1024);
    const msgs = decodeDatagram(d).map((r) => decodeMessage(r, "to_client"));
    assert.equal(msgs[0]!.kind, "version");
    replies += msgs.length - 1;
  }
  assert.equal(replies, 300);
});
