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
  assert.is(r.bytesHeld, 6);
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

test("serial arithmetic compares across the wrap", () => {
  assert.ok(tsnLt(0xffffffff, 0));
  assert.ok(!tsnLt(0, 0xffffffff));
  assert.ok(ssnLt(0xffff, 0));
  assert.ok(ssnLt(1, 2));
  assert.ok(!ssnLt(2, 2));
});

test.run();
