/** The server's pool of send buffers towards receiving clients: fair shares, bounded in total, back to the full mark when done. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AssociationLike } from "../../src/protocol/association.ts";
import { SendBufferPool } from "../../src/server/send_pool.ts";
import { until } from "../pairing/_harness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

type Member = AssociationLike & { mark: number; marks: number[]; bufferedAmount: number };

/** An association that remembers the send high-water marks it was given, with as much queued as the test says. */
function member(): Member {
  const m = {
    mark: 4 * MiB,
    marks: [] as number[],
    bufferedAmount: 0,
    setSendHighWaterMark(bytes: number) {
      m.mark = bytes;
      m.marks.push(bytes);
    },
  };
  return m as unknown as Member;
}

const sizes = { poolBytes: 16 * MiB, minBytes: 256 * KiB, maxBytes: 4 * MiB };

test("a few receivers keep the whole mark; more share the pool fairly, never in total more than it, and grow back as they leave", () => {
  const pool = new SendBufferPool(sizes);
  const ms = Array.from({ length: 8 }, member);
  for (const m of ms.slice(0, 4)) pool.join(m);
  assert.equal(ms.slice(0, 4).map((m) => m.mark), Array(4).fill(4 * MiB));
  for (const m of ms.slice(4)) pool.join(m);
  assert.equal(new Set(ms.map((m) => m.mark)), new Set([2 * MiB]));
  assert.ok(ms.reduce((n, m) => n + m.mark, 0) <= 16 * MiB);
  assert.is(pool.share, 2 * MiB);
  for (const m of ms.slice(0, 5)) pool.leave(m);
  assert.equal(ms.map((m) => m.mark), Array(8).fill(4 * MiB), "those that left are back to the full mark, the rest grew to it");
  assert.is(pool.size, 3);
});

test("joining twice, or leaving without having joined, changes nothing; a closed member is only forgotten", () => {
  const pool = new SendBufferPool(sizes);
  const [a, b, c, d, e] = Array.from({ length: 5 }, member);
  for (const m of [a, b, c, d, e]) pool.join(m);
  pool.join(a);
  assert.is(pool.size, 5);
  const before = a.marks.length;
  pool.leave(member());
  assert.is(a.marks.length, before);
  pool.forget(e);
  assert.equal([a.mark, e.mark, pool.size], [4 * MiB, Math.floor(16 * MiB / 5), 4], "the closed one is not given a mark again");
});

test("one that leaves with data still queued (a receiver that stopped reading) keeps counting, with its mark, until it has acknowledged it; joining again does not count it twice", async () => {
  const pool = new SendBufferPool({ ...sizes, drainCheckMs: 5 });
  try {
    const ms = Array.from({ length: 8 }, member);
    for (const m of ms) pool.join(m);
    const [stalled, done] = ms;
    stalled.bufferedAmount = 2 * MiB;
    pool.leave(stalled);
    pool.leave(done);
    assert.equal([pool.size, pool.share, stalled.mark, done.mark], [7, Math.floor(16 * MiB / 7), 2 * MiB, 4 * MiB], "the stalled one still counts and keeps its mark");
    pool.join(stalled);
    pool.leave(stalled);
    assert.is(pool.size, 7, "counted once");
    stalled.bufferedAmount = 0;
    await until(() => pool.size === 6, 2000, "the stalled one's queue acknowledged");
    assert.equal([stalled.mark, ms[2].mark], [4 * MiB, Math.floor(16 * MiB / 6)]);
    const gone = ms[2];
    gone.bufferedAmount = 1;
    pool.leave(gone);
    pool.forget(gone); // closed: its queue is freed with it
    assert.is(pool.size, 5);
  } finally {
    pool.close();
  }
});

test("however many receive, each keeps at least the least mark", () => {
  const pool = new SendBufferPool(sizes);
  const ms = Array.from({ length: 200 }, member);
  for (const m of ms) pool.join(m);
  assert.equal(new Set(ms.map((m) => m.mark)), new Set([256 * KiB]));
});

test.run();
