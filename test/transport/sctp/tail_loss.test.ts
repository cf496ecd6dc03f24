/**
 * Losses that SACK-driven loss detection cannot see: the last packet of a
 * burst, or data the peer holds above a hole that is still being repaired.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CHUNK } from "../../../src/transport/sctp/chunk_types.ts";
import { decodePacketUnchecked } from "../../../src/transport/sctp/packet.ts";
import type { Association } from "../../../src/transport/sctp/index.ts";
import { setImmediate as tick } from "node:timers/promises";
import { connectPair, makeManualPair, makePair, within } from "./_pair.ts";

/** The first user-data byte of every DATA / I-DATA chunk in a packet. */
function dataMarks(packet: Uint8Array): number[] {
  const marks: number[] = [];
  for (const c of decodePacketUnchecked(packet).chunks) {
    if ((c.type === CHUNK.DATA || c.type === CHUNK.I_DATA) && "userData" in c) marks.push((c.userData as Uint8Array)[0]);
  }
  return marks;
}

/** Resolves when `cond()` holds, checking after every packet the association receives. */
function until(a: Association, cond: () => boolean, ms: number, what: string): Promise<void> {
  let poll: ReturnType<typeof setInterval> | undefined;
  return within(ms, new Promise<void>((resolve) => {
    if (cond()) return resolve();
    poll = setInterval(() => cond() && resolve(), 1);
  }), what).finally(() => clearInterval(poll));
}

test("a lost last packet is repaired by a tail-loss probe long before T3-rtx, without collapsing cwnd", async () => {
  // RTO.min of 5 s: a repair within 2 s can only be the probe.
  const opts = { rtoMin: 5000, rtoInitial: 5000, pmtud: false };
  const p = makePair({ mtu: 1500 }, opts, opts);
  try {
    const { c, s } = await connectPair(p);
    const got: number[] = [];
    s.on("message", (_id: number, d: Uint8Array) => got.push(d[0]));
    // Warm up so SRTT is measured, then lose the only packet of the last message.
    for (let i = 1; i <= 4; i++) c.send(1, new Uint8Array(800).fill(i));
    await until(c, () => got.length === 4, 2000, "warm-up delivered");
    let dropped = 0;
    p.bridge.filter = (data, dir) => {
      if (dir === "a->b" && dropped === 0 && dataMarks(data).includes(9)) {
        dropped++;
        return false;
      }
      return true;
    };
    const cwnd = c.stats().cwnd;
    c.send(1, new Uint8Array(800).fill(9));
    await until(c, () => got.includes(9), 2000, "the lost message repaired");
    assert.is(dropped, 1);
    const st = c.stats();
    assert.ok(st.tailLossProbes >= 1, `tail-loss probes: ${st.tailLossProbes}`);
    assert.is(st.t3Expiries, 0);
    assert.ok(st.cwnd >= cwnd, `cwnd ${st.cwnd} kept (was ${cwnd})`);
  } finally {
    await p.close();
  }
});

test("data the peer holds above a hole does not count in bufferedAmount, so the writer is not stalled", async () => {
  const p = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false, rtoMin: 5000, rtoInitial: 5000 });
  try {
    const { c, s } = await connectPair(p);
    const got: number[] = [];
    s.on("message", (_id: number, d: Uint8Array) => got.push(d[0]));
    // Message 1 never gets through (nor its retransmissions) while the hole is held open.
    let holdHole = true;
    p.bridge.filter = (data, dir) => !(holdHole && dir === "a->b" && dataMarks(data).includes(1));
    for (let i = 1; i <= 10; i++) c.send(1, new Uint8Array(1000).fill(i));
    // Messages 2–10 reach the peer and are reported in gap blocks: only message 1 is outstanding.
    await until(c, () => c.bufferedAmount === 1000, 3000, "bufferedAmount down to the hole");
    assert.equal(got, [], "ordered delivery waits for the hole");
    holdHole = false;
    await until(c, () => got.length === 10, 5000, "all delivered once the hole is repaired");
    assert.equal(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await until(c, () => c.bufferedAmount === 0, 3000, "everything acknowledged");
  } finally {
    await p.close();
  }
});

test("gap-acknowledged data counts again beyond the high-water mark, so a hole that never closes bounds the sender's memory", async () => {
  const hwm = 16 * 1024;
  const p = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false, sendHighWaterMark: hwm });
  try {
    const { c, s } = await connectPair(p);
    let delivered = 0;
    s.on("message", () => delivered++);
    let holdHole = true;
    p.bridge.filter = (data, dir) => !(holdHole && dir === "a->b" && dataMarks(data).includes(1));
    // A writer that waits for "drain" whenever send() refuses; without the bound it
    // never stops while the hole holds (the peer's window is 8 MiB).
    let drained = false;
    c.on("drain", () => { drained = true; });
    let written = 0;
    let blocked = false;
    while (written < 200 && !blocked) {
      written++;
      if (c.send(1, new Uint8Array(1000).fill(written === 1 ? 1 : 2))) continue;
      drained = false;
      const n = written;
      const settled = () => c.stats().bytesSent >= n * 1000 && c.bufferedAmount === n * 1000 - Math.min((n - 1) * 1000, hwm);
      await until(c, () => drained || settled(), 5000, "drain, or everything but the hole gap-acknowledged");
      blocked = !drained;
    }
    assert.ok(blocked, `the writer was held (wrote ${written} messages)`);
    assert.ok(written * 1000 <= 2 * hwm + 2000, `at most two high-water marks held: ${written * 1000} bytes`);
    assert.is(delivered, 0, "ordered delivery waits for the hole");
    holdHole = false;
    await until(c, () => delivered === written, 8000, "all delivered once the hole is repaired");
  } finally {
    await p.close();
  }
});

test("a T3-rtx expiry retransmits one packet (RFC 9260 §6.3.3 E3): cwnd is one MTU, and retransmissions may not exceed it", async () => {
  const opts = { pmtud: false, congestionControl: "reno" as const, rtoMin: 300, rtoInitial: 300 };
  const m = makeManualPair({ delayMs: 20, mtu: 1500 }, opts, opts);
  try {
    const { c } = await m.connect();
    const sentAt: number[] = [];
    m.bridge.filter = (d, dir) => {
      if (dir === "a->b" && decodePacketUnchecked(d).chunks.some((x) => x.type === CHUNK.DATA || x.type === CHUNK.I_DATA)) sentAt.push(m.clock.now());
      return dir !== "a->b"; // the path to the server is cut
    };
    // 1400-byte messages: each a full chunk and a small one, so a second chunk fits under cwnd after the first.
    for (let i = 0; i < 20; i++) c.send(1, new Uint8Array(1400));
    await m.run(400, 1, () => c.stats().t3Expiries === 1);
    assert.is(c.stats().t3Expiries, 1, "T3-rtx expired");
    const t3At = m.clock.now();
    await tick();
    assert.is(sentAt.filter((t) => t === t3At).length, 1, `packets at the T3 expiry (${t3At} ms)`);
  } finally {
    await m.close();
  }
});

test("before its first RTT sample a side waits an RTO, not 10 ms, to probe: small messages over a 100 ms RTT go once and get timed", async () => {
  // The side that accepted the association takes no RTT sample in the handshake. With a 10 ms probe
  // timeout every message went three times, and each probe resent the chunk being timed (Karn): no
  // sample, ever, for a sender of one message at a time.
  const m = makeManualPair({ delayMs: 50 }, { pmtud: false }, { pmtud: false });
  try {
    const { c, s } = await m.connect();
    assert.is(s.stats().srttMs, 0, "no sample from the handshake on the accepting side");
    let got = 0;
    c.on("message", () => got++);
    for (let k = 0; k < 10; k++) {
      s.send(1, new Uint8Array(100));
      await m.run(300);
    }
    const st = s.stats();
    assert.is(got, 10);
    assert.is(st.tailLossProbes, 0);
    assert.is(st.retransmissions, 0);
    assert.ok(st.srttMs >= 99 && st.srttMs <= 102, `srtt ${st.srttMs} ms on a 100 ms path`);
  } finally {
    await m.close();
  }
});

test("without an RTT sample no probe doubles T3-rtx: each expiry sends the lost chunk once, not twice in the same millisecond", async () => {
  const m = makeManualPair({ delayMs: 10 }, { pmtud: false, rtoInitial: 400 }, { pmtud: false });
  try {
    const { s } = await m.connect();
    assert.is(s.stats().srttMs, 0, "no sample from the handshake on the accepting side");
    const sentAt: number[] = [];
    m.bridge.filter = (d, dir) => {
      if (dir === "b->a" && dataMarks(d).length > 0) sentAt.push(m.clock.now());
      return dir !== "b->a"; // nothing the server sends arrives
    };
    s.send(1, new Uint8Array(100).fill(7));
    await m.run(5000, 1, () => s.stats().t3Expiries === 3);
    assert.is(s.stats().t3Expiries, 3);
    await tick();
    assert.is(sentAt.length, 4, `DATA sent at ${sentAt.join(", ")} ms`);
    assert.is(new Set(sentAt).size, 4, `DATA sent at ${sentAt.join(", ")} ms`);
  } finally {
    await m.close();
  }
});

test.run();
