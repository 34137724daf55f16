import assert from "node:assert/strict";
import { PollAnswerLayout } from "./answer_bytes.ts";
import { encodePollAnswer, POLL_EVIDS } from "./protocol.ts";

const dec = new TextDecoder();

Deno.test("answer bytes: the same body as encodePollAnswer, with a matching content-length", () => {
  const texts: Record<number, string> = {
    100: "3.78864",
    102: "63063947",
    105: "2",
    106: "18",
    107: "0",
    114: "-1.2345678901234567e-300",
    208: "134217728",
    1103: "1000",
    101: 'a<b & "c"',
  };
  const text = (e: number) => texts[e]!;
  for (const asked of [[...POLL_EVIDS], [1103, 105], [4242, 100, 101], [], [4242]]) {
    const layout = new PollAnswerLayout(asked, (e) => e in texts);
    const scratch = new Uint8Array(layout.size);
    const raw = dec.decode(layout.answer(text, scratch));
    const [head, body] = raw.split("\r\n\r\n") as [string, string];
    assert.equal(body, encodePollAnswer(asked, (e) => texts[e]));
    assert.match(
      head,
      new RegExp(
        `^HTTP/1\\.1 200 OK\r\ncontent-type: text/xml\r\ndate: \\w{3}, \\d\\d \\w{3} \\d{4} ` +
          `\\d\\d:\\d\\d:\\d\\d GMT\r\ncontent-length: ${new TextEncoder().encode(body).length}$`,
      ),
    );
    // The scratch is reused: a second answer is whole too (its date may be a second later).
    const again = dec.decode(layout.answer(text, scratch));
    assert.equal(again.split("\r\n\r\n")[1], body);
  }
});
