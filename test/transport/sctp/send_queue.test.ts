import { test } from "uvu";
import * as assert from "uvu/assert";
import { SendQueue } from "../../../src/transport/sctp/send_queue.ts";

const msg = (n: number, fill: number) => new Uint8Array(n).fill(fill);

for (const idata of [true, false]) {
  const kind = idata ? "I-DATA" : "DATA";

  test(`${kind}: discard() keeps a message begun, drops the waiting ones it picks, and the sequence numbers stay contiguous`, () => {
    const q = new SendQueue(idata);
    q.push(1, msg(3000, 1), false, 7);
    q.push(1, msg(100, 2), false, 7);
    q.push(1, msg(100, 3), false, 9);
    q.push(1, msg(100, 4), false, 7);
    q.push(2, msg(100, 5), false, 7);
    let tsn = 0;
    const first = q.next(1000, tsn++)!;
    assert.is(first.userData[0], 1);
    assert.ok(first.beginning && !first.ending);
    assert.is(q.discard((stream, ppid) => stream === 1 && ppid === 7), 200, "messages 2 and 4, not the begun 1, nor 3 (ppid 9), nor stream 2");
    assert.is(q.queuedBytes, 2000 + 100 + 100);
    assert.is(q.queuedMessages, 3);
    const out: string[] = [];
    for (let c = q.next(1000, tsn++); c; c = q.next(1000, tsn++)) {
      out.push(`${c.streamId}:${c.userData[0]}:${idata ? c.mid : c.ssn}:${c.beginning ? "B" : ""}${c.ending ? "E" : ""}`);
    }
    // The begun message finishes on stream 1 (fragments 2 and 3, with stream 2 between them under
    // I-DATA), then message 3 takes the next number: no hole a receiver would wait on.
    const one = out.filter((o) => o.startsWith("1:"));
    assert.equal(one, ["1:1:0:", "1:1:0:E", "1:3:1:BE"]);
    assert.ok(out.includes("2:5:0:BE"));
    assert.is(q.queuedBytes, 0);
    assert.is(q.queuedMessages, 0);
  });

  test(`${kind}: discard() of a whole stream's queue leaves the other streams' turns intact`, () => {
    const q = new SendQueue(idata);
    for (let i = 0; i < 3; i++) q.push(1, msg(10, i), false, 7);
    q.push(2, msg(10, 9), false, 7);
    assert.is(q.discard((stream) => stream === 1), 30);
    assert.is(q.peekSize(1000), 10);
    const c = q.next(1000, 0)!;
    assert.is(c.streamId, 2);
    assert.is(q.next(1000, 1), undefined);
    // The emptied stream takes new messages again.
    q.push(1, msg(10, 4), false, 7);
    const d = q.next(1000, 2)!;
    assert.is(d.streamId, 1);
    assert.is(idata ? d.mid : d.ssn, 0, "no number was taken by the dropped messages");
  });

  test(`${kind}: clear() drops everything queued and keeps each stream's count of messages given`, () => {
    const q = new SendQueue(idata);
    q.push(1, msg(3000, 1), false, 7);
    q.push(2, msg(10, 2), false, 7);
    q.next(1000, 0);
    q.clear();
    assert.is(q.queuedBytes, 0);
    assert.is(q.queuedMessages, 0);
    assert.is(q.peekSize(1000), 0);
    assert.is(q.next(1000, 1), undefined);
    assert.is(q.given(1), 1);
    assert.is(q.given(2), 1);
  });
}

test.run();
