/** send(…, { release: true }): the association owns the message and frees its buffer once the peer has it. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Association } from "../../../src/transport/sctp/index.ts";
import { connectPair, makePair, within } from "./_pair.ts";

function acknowledged(a: Association): Promise<void> {
  let poll: ReturnType<typeof setInterval> | undefined;
  return within(5000, new Promise<void>((resolve) => {
    poll = setInterval(() => a.bufferedAmount === 0 && resolve(), 1);
  }), "all acknowledged").finally(() => clearInterval(poll));
}

test("a released message's buffer is detached once the peer acknowledged it, after the bytes arrived intact", async () => {
  const p = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false });
  try {
    const { c, s } = await connectPair(p);
    const got: Uint8Array[] = [];
    s.on("message", (_id: number, d: Uint8Array) => got.push(new Uint8Array(d)));
    const owned = new Uint8Array(10_000).map((_, i) => i & 255); // several fragments
    const kept = new Uint8Array(10_000).fill(7);
    c.send(1, owned, { release: true });
    c.send(1, kept);
    await acknowledged(c);
    await within(5000, new Promise<void>((r) => {
      const t = setInterval(() => got.length === 2 && (clearInterval(t), r()), 1);
    }), "both delivered");
    assert.is(got[0].length, 10_000);
    assert.ok(got[0].every((b, i) => b === (i & 255)), "released message delivered byte-exact");
    assert.is(owned.buffer.byteLength, 0, "the released buffer is detached");
    assert.is(kept.buffer.byteLength, 10_000, "a message sent without release is untouched");
  } finally {
    await p.close();
  }
});

test("release leaves a view into a larger buffer alone (it may be a slice of a shared pool)", async () => {
  const p = makePair({ mtu: 1500 }, { pmtud: false }, { pmtud: false });
  try {
    const { c } = await connectPair(p);
    const pool = new Uint8Array(8192).fill(1);
    c.send(1, pool.subarray(100, 600), { release: true });
    await acknowledged(c);
    assert.is(pool.buffer.byteLength, 8192);
  } finally {
    await p.close();
  }
});

test.run();
