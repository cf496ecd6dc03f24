/** The server's pool of receive windows for sending clients: fair shares, bounded in total, back to small when done. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AssociationLike } from "../../src/protocol/association.ts";
import { WindowPool } from "../../src/server/window_pool.ts";
import { until } from "../pairing/_harness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

type Member = AssociationLike & { window: number; heldAboveGapBytes: number; cumulativeTsnReceived: number; isPaused: boolean; aborted?: string };

/** An association that remembers the window it was given, holds what the test says, and whether it was aborted. */
function member(): Member {
  const m = {
    window: 64 * KiB,
    heldAboveGapBytes: 0,
    cumulativeTsnReceived: 1,
    isPaused: false,
    aborted: undefined as string | undefined,
    setReceiveBufferSize(bytes: number) {
      m.window = bytes;
    },
    abort(reason: string) {
      m.aborted = reason;
    },
  };
  return m as unknown as Member;
}


test("a few senders get the whole window; one that stops is back to the small window", () => {
  const pool = new WindowPool({ poolBytes: 32 * MiB, idleBytes: 64 * KiB, maxBytes: 8 * MiB });
  const [a, b] = [member(), member()];
  pool.join(a);
  pool.join(b);
  assert.equal([a.window, b.window], [8 * MiB, 8 * MiB]);
  pool.leave(a);
  assert.equal([a.window, b.window], [64 * KiB, 8 * MiB]);
  pool.join(b); // twice: no change
  pool.leave(a); // not a member: no change
  assert.equal([a.window, b.window, pool.size], [64 * KiB, 8 * MiB, 1]);
});

test("more senders than the pool holds at full size share it fairly, never in total more than the pool, and grow back as they leave", () => {
  const pool = new WindowPool({ poolBytes: 32 * MiB, idleBytes: 64 * KiB, maxBytes: 8 * MiB });
  const ms = Array.from({ length: 10 }, member);
  for (const m of ms) pool.join(m);
  const total = ms.reduce((n, m) => n + m.window, 0);
  assert.ok(total <= 32 * MiB, `total ${total}`);
  assert.equal(new Set(ms.map((m) => m.window)), new Set([Math.floor(32 * MiB / 10)]));
  for (const m of ms.slice(0, 6)) pool.leave(m);
  assert.equal(ms.slice(6).map((m) => m.window), [8 * MiB, 8 * MiB, 8 * MiB, 8 * MiB]);
  assert.equal(ms.slice(0, 6).map((m) => m.window), Array(6).fill(64 * KiB));
});

test("however many send, each keeps at least the small window", () => {
  const pool = new WindowPool({ poolBytes: 1 * MiB, idleBytes: 64 * KiB, maxBytes: 8 * MiB });
  const ms = Array.from({ length: 100 }, member);
  for (const m of ms) pool.join(m);
  assert.ok(ms.every((m) => m.window === 64 * KiB));
});

test("a client holding more than the small window above a gap that does not move is aborted after the grace — after it stopped sending, or while it sends, or joining again and again; one whose gap moves, that lets go, is paused or closed, is not", async () => {
  const pool = new WindowPool({ poolBytes: 64 * MiB, idleBytes: 64 * KiB, maxBytes: 8 * MiB, graceMs: 150 });
  const [left, sending, rejoining, moving, honest, paused, closed] = Array.from({ length: 7 }, member);
  for (const m of [left, sending, rejoining, moving, honest, paused, closed]) {
    pool.join(m);
    m.heldAboveGapBytes = 7 * MiB;
  }
  for (const m of [left, honest, closed, rejoining]) pool.leave(m);
  honest.heldAboveGapBytes = 0; // its gap filled: everything was read on
  paused.isPaused = true;
  pool.forget(closed);
  const churn = setInterval(() => {
    pool.join(rejoining);
    pool.leave(rejoining);
    moving.cumulativeTsnReceived++;
  }, 20);
  try {
    await until(() => [left, sending, rejoining].every((m) => m.aborted !== undefined), 3000, "the stuck ones to be aborted");
    assert.match(left.aborted!, /holding 7340032 bytes above a gap that has not moved/);
    assert.equal([moving.aborted, honest.aborted, paused.aborted, closed.aborted], [undefined, undefined, undefined, undefined]);
  } finally {
    clearInterval(churn);
    pool.close();
  }
});

test("when the server's socket drops datagrams, the senders' windows add up to half what was in use; they grow back while it drops none, and start whole once nobody sends", async () => {
  let drops = 100; // since the socket opened: the first look only takes it in
  let looks = 0;
  const cuts: Array<[number, number]> = [];
  const pool = new WindowPool({
    poolBytes: 512 * MiB,
    idleBytes: 64 * KiB,
    maxBytes: 8 * MiB,
    overflows: () => (looks++, drops),
    overflowCheckMs: 5,
    onOverflow: (dropped, share) => cuts.push([dropped, share]),
  });
  const ms = Array.from({ length: 20 }, member);
  const total = () => ms.reduce((n, m) => n + m.window, 0);
  const looked = (n: number) => {
    const at = looks;
    return until(() => looks >= at + n, 1000, `${n} looks at the socket`);
  };
  try {
    for (const m of ms) pool.join(m);
    assert.is(total(), 20 * 8 * MiB);
    await looked(3); // looks that find no new drop change nothing
    assert.is(total(), 20 * 8 * MiB);
    drops += 37;
    await until(() => cuts.length === 1, 1000, "the cut");
    assert.equal(cuts, [[37, 4 * MiB]]);
    assert.ok(ms.every((m) => m.window === 4 * MiB), "shared fairly");
    drops += 1;
    await until(() => cuts.length === 2, 1000, "the second cut");
    assert.equal(cuts[1], [1, 2 * MiB]);
    // No more drops: back up by a tenth a look, to the full window.
    await until(() => ms[0].window === 8 * MiB, 3000, "the windows to grow back");
    assert.is(total(), 20 * 8 * MiB);
    // Cut to 256 KiB each, then everyone stops: the next sender starts from the whole pool.
    for (let i = 0; i < 5; i++) {
      drops += 5;
      await until(() => cuts.length === 3 + i, 1000, "another cut");
    }
    assert.is(ms[0].window, 256 * KiB);
    for (const m of ms.slice(1)) pool.leave(m);
    pool.forget(ms[0]); // closed while sending
    const next = member();
    pool.join(next);
    assert.is(next.window, 8 * MiB);
  } finally {
    pool.close();
  }
});

test("without a drop counter (or one that cannot be read) the windows are only shared", async () => {
  let looks = 0;
  const pool = new WindowPool({ poolBytes: 32 * MiB, idleBytes: 64 * KiB, maxBytes: 8 * MiB, overflows: () => (looks++, undefined), overflowCheckMs: 5 });
  const ms = Array.from({ length: 4 }, member);
  try {
    for (const m of ms) pool.join(m);
    await until(() => looks >= 4, 1000, "looks at the socket");
    assert.ok(ms.every((m) => m.window === 8 * MiB));
  } finally {
    pool.close();
  }
});

test.run();
