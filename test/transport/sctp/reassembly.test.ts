import { test } from "uvu";
import * as assert from "uvu/assert";
import { type InboundFragment, Reassembler } from "../../../src/transport/sctp/reassembly.ts";
import { ReceivedTsns, ssnLt, tsnLt } from "../../../src/transport/sctp/tsn.ts";

type Got = [number, string, number];
function make(idata: boolean): { r: Reassembler; got: Got[] } {
  const got: Got[] = [];
  const r = new Reassembler(idata, (s, d, p) => got.push([s, new TextDecoder().decode(d), p]), 1 << 20);
  return { r, got };
}
function frag(tsn: number, text: string, o: Partial<InboundFragment> = {}): InboundFragment {
  return { tsn, streamId: 1, unordered: false, beginning: true, ending: true, seq: 0, fsn: 0, ppid: 0, userData: new TextEncoder().encode(text), ...o };
}

test("DATA: fragments with consecutive TSNs reassemble in any arrival order", () => {
  const { r, got } = make(false);
  r.add(frag(12, "c", { beginning: false, ending: true }));
  r.add(frag(10, "a", { beginning: true, ending: false, ppid: 9 }));
  assert.equal(got, []);
  r.add(frag(11, "b", { beginning: false, ending: false }));
  assert.equal(got, [[1, "abc", 9]]);
  assert.is(r.bytesHeld, 0);
  assert.is(r.fragmentCount, 0);
});

test("DATA: ordered messages wait for their SSN; unordered ones do not", () => {
  const { r, got } = make(false);
  r.add(frag(2, "second", { seq: 1 }));
  r.add(frag(3, "u", { unordered: true, seq: 77 }));
  assert.equal(got, [[1, "u", 0]]);
  assert.is(r.bytesHeld, 64, "a message held whole counts as at least 64 bytes");
  r.add(frag(1, "first", { seq: 0 }));
  assert.equal(got.map((g) => g[1]), ["u", "first", "second"]);
  assert.is(r.bytesHeld, 0);
});

test("DATA: a complete message waits for its turn however far (more than 2^15 SSNs) it is ahead of the next one to deliver", () => {
  // Its TSN was new and is acknowledged, so it would never come again: the SSN's distance alone must not drop it.
  const { r, got } = make(false);
  for (let ssn = 1; ssn <= 40_000; ssn++) r.add(frag(ssn + 1, "x", { seq: ssn }));
  assert.is(got.length, 0);
  r.add(frag(1, "first", { seq: 0 }));
  assert.is(got.length, 40_001);
  assert.is(got[0][1], "first");
  assert.is(r.bytesHeld, 0);
});

test("DATA: streams are independent (a gap on one does not hold another)", () => {
  const { r, got } = make(false);
  r.add(frag(5, "s2", { streamId: 2, seq: 0 }));
  r.add(frag(6, "s1-later", { streamId: 1, seq: 1 }));
  assert.equal(got, [[2, "s2", 0]]);
});

test("I-DATA: interleaved fragments of two messages reassemble by MID and FSN", () => {
  const { r, got } = make(true);
  r.add(frag(1, "A1", { streamId: 1, seq: 0, beginning: true, ending: false, ppid: 4 }));
  r.add(frag(2, "B1", { streamId: 2, seq: 0, beginning: true, ending: false, ppid: 5 }));
  r.add(frag(4, "B2", { streamId: 2, seq: 0, beginning: false, ending: true, fsn: 1 }));
  r.add(frag(3, "A2", { streamId: 1, seq: 0, beginning: false, ending: false, fsn: 1 }));
  r.add(frag(5, "A3", { streamId: 1, seq: 0, beginning: false, ending: true, fsn: 2 }));
  assert.equal(got, [[2, "B1B2", 5], [1, "A1A2A3", 4]]);
});

test("I-DATA: a message over the size limit is a protocol violation", () => {
  const r = new Reassembler(true, () => {}, 4);
  assert.ok(r.add(frag(1, "abc", { beginning: true, ending: false })));
  assert.not.ok(r.add(frag(2, "def", { beginning: false, ending: false, fsn: 1 })));
});

test("I-DATA: fragments arriving out of order, repeated, or contradicting the end", () => {
  const { r, got } = make(true);
  assert.ok(r.add(frag(3, "3", { seq: 0, beginning: false, ending: true, fsn: 2 })));
  assert.ok(r.add(frag(2, "2", { seq: 0, beginning: false, ending: false, fsn: 1 })));
  assert.ok(r.add(frag(9, "X", { seq: 0, beginning: false, ending: false, fsn: 1 }))); // same FSN again: the first one is kept
  assert.is(r.fragmentCount, 2);
  assert.ok(r.add(frag(1, "1", { seq: 0, beginning: true, ending: false, ppid: 7 })));
  assert.equal(got, [[1, "123", 7]]);
  assert.is(r.bytesHeld, 0);
  // A fragment beyond a known end, or an end before a fragment already held, breaks the protocol.
  const a = make(true).r;
  assert.ok(a.add(frag(1, "e", { seq: 0, beginning: false, ending: true, fsn: 1 })));
  assert.not.ok(a.add(frag(2, "f", { seq: 0, beginning: false, ending: false, fsn: 2 })));
  const b = make(true).r;
  assert.ok(b.add(frag(1, "x", { seq: 0, beginning: false, ending: false, fsn: 5 })));
  assert.not.ok(b.add(frag(2, "e", { seq: 0, beginning: false, ending: true, fsn: 3 })));
});

test("I-DATA: a hostile FSN far out costs neither memory nor time; one past the size limit is refused", () => {
  const { r } = make(true);
  const before = process.memoryUsage().heapUsed;
  assert.ok(r.add(frag(1, "far", { seq: 0, beginning: false, ending: false, fsn: 1_000_000 })));
  assert.ok(process.memoryUsage().heapUsed - before < 4 << 20);
  assert.is(r.fragmentCount, 1);
  assert.not.ok(r.add(frag(2, "x", { seq: 1, beginning: false, ending: false, fsn: 1 << 20 })));
});

test("a held fragment that is a small part of its datagram is copied out of it: the datagram may be reused or freed", () => {
  for (const idata of [false, true]) {
    const { r, got } = make(idata);
    const datagram = new Uint8Array(64_000).fill(0x61); // "a"
    assert.ok(r.add(frag(1, "", { beginning: true, ending: false, userData: datagram.subarray(100, 101) })));
    datagram.fill(0x7a); // "z": the socket's buffer, reused
    assert.ok(r.add(frag(2, "b", { beginning: false, ending: true, fsn: 1 })));
    assert.equal(got, [[1, "ab", 0]], idata ? "I-DATA" : "DATA");
  }
});

test("fragmentsHeld always equals fragmentCount (DATA and I-DATA, any arrival order, fragments resent under new TSNs)", () => {
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % n;
  for (const [idata, resends] of [[false, false], [true, false], [true, true]]) {
    const { r, got } = make(idata);
    // 60 messages of 1 to 4 fragments on 3 streams, TSNs in order of (message, fragment), arriving shuffled.
    const all: InboundFragment[] = [];
    const mids = [0, 0, 0];
    let tsn = 1;
    for (let m = 0; m < 60; m++) {
      const streamId = rand(3);
      const n = 1 + rand(4);
      const mid = mids[streamId]++;
      for (let i = 0; i < n; i++) all.push(frag(tsn++, `${m}.${i}`, { streamId, seq: mid, fsn: i, beginning: i === 0, ending: i === n - 1 }));
    }
    for (let i = all.length - 1; i > 0; i--) {
      const j = rand(i + 1);
      [all[i], all[j]] = [all[j], all[i]];
    }
    for (const f of all) {
      assert.ok(r.add(f));
      assert.is(r.fragmentsHeld, r.fragmentCount);
      if (resends && rand(4) === 0) {
        // The same fragment under a new TSN: kept once while its message is incomplete.
        assert.ok(r.add({ ...f, tsn: tsn++ }));
        assert.is(r.fragmentsHeld, r.fragmentCount);
      }
    }
    assert.is(got.length, 60);
    if (!resends) {
      assert.is(r.fragmentsHeld, 0);
      assert.is(r.bytesHeld, 0);
    }
  }
});

test("ReceivedTsns tracks the cumulative TSN, gap blocks and duplicates across wrap-around", () => {
  const t = new ReceivedTsns(0xfffffffe);
  assert.ok(t.add(0xfffffffe));
  assert.ok(t.add(1));
  assert.ok(t.add(3));
  assert.ok(t.add(2));
  assert.not.ok(t.add(2), "duplicate");
  assert.not.ok(t.add(0xfffffffe), "below cum");
  assert.is(t.cum, 0xfffffffe);
  assert.equal(t.gapBlocks(10), [{ start: 3, end: 5 }]);
  assert.ok(t.add(0xffffffff));
  assert.ok(t.add(0));
  assert.is(t.cum, 3);
  assert.not.ok(t.hasGaps);
  assert.ok(t.add(10));
  assert.ok(t.add(8));
  assert.ok(t.add(9));
  assert.ok(t.has(9));
  assert.not.ok(t.has(7));
  assert.equal(t.gapBlocks(10), [{ start: 5, end: 7 }]);
});

test("ReceivedTsns.removeAll forgets TSNs held beyond a gap (reneging): runs split and shrink, highest follows, cum stays", () => {
  const t = new ReceivedTsns(0xfffffff0); // cum 0xffffffef
  for (const tsn of [0xfffffff2, 0xfffffff3, 0xfffffff4, 0xfffffffe, 0xffffffff, 0, 1, 5]) assert.ok(t.add(tsn));
  assert.is(t.highest, 5);
  assert.is(t.removeAll([0xffffffef, 0xfffffff1, 3, 0xffffffee]), 0, "the cumulative TSN, TSNs below it and TSNs never received stay as they are");
  assert.is(t.removeAll([5]), 1);
  assert.is(t.highest, 1, "the highest still held");
  assert.is(t.removeAll([0, 0]), 1, "splits the run across the wrap; listed twice, forgotten once");
  assert.equal(t.gapBlocks(10), [{ start: 3, end: 5 }, { start: 15, end: 16 }, { start: 18, end: 18 }]);
  assert.is(t.removeAll([0xfffffff4, 0xfffffff2]), 2, "in any order");
  assert.equal(t.gapBlocks(10), [{ start: 4, end: 4 }, { start: 15, end: 16 }, { start: 18, end: 18 }]);
  assert.not.ok(t.has(0xfffffff2));
  assert.ok(t.add(0xfffffff2), "taken again when resent");
  assert.ok(t.add(0xfffffff0));
  assert.ok(t.add(0xfffffff1));
  assert.is(t.cum, 0xfffffff3);
  assert.is(t.removeAll([1, 0xffffffff, 0xfffffffe]), 3);
  assert.not.ok(t.hasGaps);
  assert.is(t.highest, t.cum);
});

test("ReceivedTsns.removeAll: every other run of 65,000, listed from the top down", () => {
  const t = new ReceivedTsns(1); // cum 0
  for (let tsn = 2; tsn <= 130_000; tsn += 2) t.add(tsn);
  const gone: number[] = [];
  for (let tsn = 130_000; tsn >= 2; tsn -= 4) gone.push(tsn);
  assert.is(t.removeAll(gone), gone.length);
  assert.is(t.starts.length, 65_000 - gone.length);
  assert.is(t.highest, 130_000 - 2);
  for (const tsn of [2, 4, 6, 8, 129_998, 130_000]) assert.is(t.has(tsn), tsn % 4 === 0 ? false : true, `TSN ${tsn}`);
});

for (const idata of [false, true]) {
  test(`${idata ? "I-DATA" : "DATA"}: renege gives up held data highest TSN first, never what is cumulatively acknowledged, and the rest still completes`, () => {
    const { r, got } = make(idata);
    // Stream 1: message 0 lost (TSN 1). Message 1 complete and waiting (TSNs 2–3), message 2 half
    // there (TSN 4; TSN 5 lost), message 3 complete (TSN 6), and fragments of message 4 (TSNs 7, 8).
    const m = (tsn: number, seq: number, text: string, b: boolean, e: boolean, fsn = 0) => frag(tsn, text, { seq, beginning: b, ending: e, fsn });
    for (const f of [m(2, 1, "b1", true, false), m(3, 1, "b2", false, true, 1), m(4, 2, "c1", true, false), m(6, 3, "d", true, true), m(7, 4, "e1", true, false), m(8, 4, "e2", false, false, 1)]) {
      assert.ok(r.add(f));
    }
    // Fragments count their bytes (6); the two messages waiting whole, 64 each.
    assert.is(r.bytesHeld, 134);
    const forgotten: number[] = [];
    // Above TSN 3, what frees 3 bytes: TSN 8, then TSN 7.
    assert.equal(r.renege(0, 3, 3, 0, (t) => forgotten.push(t)), { freed: 4, available: 70 });
    assert.equal(forgotten, [8, 7]);
    assert.is(r.bytesHeld, 130);
    assert.is(r.fragmentsHeld, r.fragmentCount);
    // With the cumulative TSN at 2, message 1 (TSNs 2–3) cannot go: everything else does.
    assert.equal(r.renege(2, 1, 100, 67, (t) => forgotten.push(t)), { freed: 0, available: 66 }, "67 bytes cannot be freed: nothing is given up");
    assert.is(r.bytesHeld, 130);
    assert.equal(r.renege(2, 1, 100, 66, (t) => forgotten.push(t)), { freed: 66, available: 66 });
    assert.equal(forgotten, [8, 7, 6, 4]);
    assert.is(r.bytesHeld, 64);
    // Resent under new TSNs (or the same, for DATA), everything completes, in order, once.
    const again = idata
      ? [m(1, 0, "a", true, true), m(9, 2, "c1", true, false), m(10, 2, "c2", false, true, 1), m(11, 3, "d", true, true), m(12, 4, "e1", true, false), m(13, 4, "e2", false, true, 1)]
      : [m(1, 0, "a", true, true), m(4, 2, "c1", true, false), m(5, 2, "c2", false, true), m(6, 3, "d", true, true), m(7, 4, "e1", true, false), m(8, 4, "e2", false, false), m(9, 4, "e3", false, true)];
    for (const f of again) assert.ok(r.add(f));
    const text = got.map((g) => g[1]);
    assert.equal(text.slice(0, 4), ["a", "b1b2", "c1c2", "d"]);
    assert.is(text[4], idata ? "e1e2" : "e1e2e3");
    assert.is(r.bytesHeld, 0);
    assert.is(r.fragmentsHeld, 0);
  });
}

test("I-DATA: a message whose ending fragment was reneged on takes it again, with a different last FSN refused as before", () => {
  const { r, got } = make(true);
  assert.ok(r.add(frag(2, "x1", { seq: 0, beginning: true, ending: false })));
  assert.ok(r.add(frag(4, "x3", { seq: 0, beginning: false, ending: true, fsn: 2 })));
  assert.equal(r.renege(1, 2, 1, 0, () => {}), { freed: 2, available: 2 });
  assert.is(r.fragmentCount, 1);
  // The end is free again: the message may now end at FSN 1.
  assert.ok(r.add(frag(5, "x2", { seq: 0, beginning: false, ending: true, fsn: 1 })));
  assert.equal(got, [[1, "x1x2", 0]]);
  assert.is(r.bytesHeld, 0);
});

test("I-DATA: a fragment given up from the middle of its message leaves it whole for the next renege (found by review: it crashed)", () => {
  const { r, got } = make(true);
  // FSN 2 came first (TSN 2), then FSNs 0 and 1 under higher TSNs: giving up the highest TSN
  // empties a slot in the middle of the message.
  assert.ok(r.add(frag(2, "x3", { seq: 0, beginning: false, ending: false, fsn: 2 })));
  assert.ok(r.add(frag(3, "x1", { seq: 0, beginning: true, ending: false })));
  assert.ok(r.add(frag(4, "x2", { seq: 0, beginning: false, ending: false, fsn: 1 })));
  const gone: number[] = [];
  assert.equal(r.renege(1, 1, 1, 0, (t) => gone.push(t)), { freed: 2, available: 6 });
  assert.equal(r.renege(1, 1, 1, 0, (t) => gone.push(t)), { freed: 2, available: 4 });
  assert.equal(gone, [4, 3]);
  assert.is(r.fragmentsHeld, r.fragmentCount);
  for (const f of [frag(3, "x1", { seq: 0, beginning: true, ending: false }), frag(4, "x2", { seq: 0, beginning: false, ending: false, fsn: 1 }), frag(5, "x4", { seq: 0, beginning: false, ending: true, fsn: 3 })]) {
    assert.ok(r.add(f));
  }
  assert.equal(got, [[1, "x1x2x3x4", 0]]);
  assert.is(r.bytesHeld, 0);
});

test("serial arithmetic compares across the wrap", () => {
  assert.ok(tsnLt(0xffffffff, 0));
  assert.ok(!tsnLt(0, 0xffffffff));
  assert.ok(ssnLt(0xffff, 0));
  assert.ok(ssnLt(1, 2));
  assert.ok(!ssnLt(2, 2));
});

test.run();
