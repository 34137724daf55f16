import assert from "node:assert/strict";
import { SearchSocket } from "./client_udp.ts";
import { decodeDatagram } from "./framing.ts";
import { CMD } from "./messages.ts";

for (const native of [true, false]) {
  Deno.test(`search socket (${native ? "Deno" : "node:dgram"}): datagrams out and in`, async () => {
    const peer = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const peerPort = (peer.addr as Deno.NetAddr).port;
    const got: { bytes: Uint8Array; from: string }[] = [];
    const sock = await SearchSocket.open(
      (bytes, from) => got.push({ bytes: bytes.slice(), from }),
      (m) => assert.fail(m),
      native,
    );
    try {
      sock.registerWithRepeater(peerPort);
      sock.send([new Uint8Array([1, 2, 3])], [{ host: "127.0.0.1", port: peerPort }]);
      // Two datagrams, in whichever order they were sent.
      const [one, addr] = await peer.receive();
      const first = one.slice();
      const [two] = await peer.receive();
      const [register, bytes] = first.length > two.length ? [first, two] : [two.slice(), first];
      assert.equal(decodeDatagram(register)[0]!.command, CMD.REPEATER_REGISTER);
      assert.deepEqual([...bytes], [1, 2, 3]);
      await peer.send(new Uint8Array([9, 8]), addr);
      const end = Date.now() + 5000;
      while (got.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(got.map((g) => [...g.bytes]), [[9, 8]]);
      assert.equal(got[0]!.from, "127.0.0.1");
    } finally {
      await sock.close();
      peer.close();
    }
  });
}
