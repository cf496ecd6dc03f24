import { test } from "uvu";
import * as assert from "uvu/assert";
import { type BridgeClock, createBridge, prng } from "../_bridge.ts";
import { ManualClock as StackClock } from "../../src/transport/sctp/clock.ts";

/** A clock that moves only when told to: deliveries happen inside advance() (kept local so this file tests the bridge alone). */
class ManualClock implements BridgeClock {
  #now = 0;
  #timers: Array<{ at: number; id: number; fn: () => void }> = [];
  #nextId = 1;
  now(): number {
    return this.#now;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = this.#nextId++;
    this.#timers.push({ at: this.#now + ms, id, fn });
    return id;
  }
  clearTimer(handle: unknown): void {
    this.#timers = this.#timers.filter((t) => t.id !== handle);
  }
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      this.#timers.sort((x, y) => x.at - y.at || x.id - y.id);
      const t = this.#timers[0];
      if (!t || t.at > end) break;
      this.#timers.shift();
      this.#now = t.at;
      t.fn();
    }
    this.#now = end;
  }
  pending(): number {
    return this.#timers.length;
  }
}

const bytes = (...xs: number[]) => new Uint8Array(xs);

/** Sends datagrams [i] for i in 0…n-1 from `a` and collects what `b` receives. */
function collect(bridge: ReturnType<typeof createBridge>): number[] {
  const got: number[] = [];
  bridge.b.onMessage((data) => got.push(data[0] | (data[1] << 8)));
  return got;
}
function sendMany(bridge: ReturnType<typeof createBridge>, n: number, size = 2): void {
  for (let i = 0; i < n; i++) {
    const d = new Uint8Array(size);
    d[0] = i & 0xff;
    d[1] = i >> 8;
    bridge.a.send(d, bridge.addressOf("b"));
  }
}

test("a perfect link delivers every datagram in order, byte-exact, with the sender's address", async () => {
  const bridge = createBridge();
  const seen: Array<[number[], string, number]> = [];
  const done = new Promise<void>((resolve) => {
    bridge.b.onMessage((data, from) => {
      seen.push([[...data], from.address, from.port]);
      if (seen.length === 3) resolve();
    });
  });
  bridge.a.send(bytes(1), bridge.addressOf("b"));
  bridge.a.send(bytes(2, 3), bridge.addressOf("b"));
  bridge.a.send(bytes(4, 5, 6), bridge.addressOf("b"));
  assert.is(seen.length, 0, "delivery is asynchronous, never inside send()");
  await done;
  const { address, port } = bridge.addressOf("a");
  assert.equal(seen, [
    [[1], address, port],
    [[2, 3], address, port],
    [[4, 5, 6], address, port],
  ]);
  assert.is(bridge.counters["a->b"].delivered, 3);
  assert.is(bridge.counters["b->a"].sent, 0);
  await bridge.close();
});

test("the receiver gets a copy: the sender may reuse its buffer right after send()", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const got: number[][] = [];
  bridge.b.onMessage((d) => got.push([...d]));
  const buf = bytes(7, 7);
  bridge.a.send(buf, bridge.addressOf("b"));
  buf.fill(0);
  clock.advance(0);
  assert.equal(got, [[7, 7]]);
  void bridge.close();
});

test("dropNext(n, dir) drops exactly the next n datagrams in that direction only", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const got = collect(bridge);
  const back: number[] = [];
  bridge.a.onMessage((d) => back.push(d[0]));
  bridge.dropNext(2, "a->b");
  bridge.b.send(bytes(9), bridge.addressOf("a"));
  sendMany(bridge, 5);
  clock.advance(1);
  assert.equal(got, [2, 3, 4]);
  assert.equal(back, [9]);
  assert.is(bridge.counters["a->b"].droppedOnPurpose, 2);
  void bridge.close();
});

test("dropNext(n) without a direction drops whichever datagrams come next", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const back: number[] = [];
  bridge.a.onMessage((d) => back.push(d[0]));
  const got = collect(bridge);
  bridge.dropNext(1);
  bridge.b.send(bytes(1), bridge.addressOf("a"));
  sendMany(bridge, 2);
  clock.advance(1);
  assert.equal(back, []);
  assert.equal(got, [0, 1]);
  void bridge.close();
});

test("reorderNext(1) delivers the held datagram right after its successor", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, delayMs: 5 });
  const got = collect(bridge);
  bridge.reorderNext(1, "a->b");
  sendMany(bridge, 4);
  clock.advance(100);
  assert.equal(got, [1, 0, 2, 3]);
  assert.is(bridge.counters["a->b"].reordered, 1);
  void bridge.close();
});

test("a held datagram with no successor is still delivered, after reorderHoldMs", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, delayMs: 5, reorderHoldMs: 20 });
  const got = collect(bridge);
  bridge.reorderNext(1);
  sendMany(bridge, 1);
  clock.advance(24);
  assert.equal(got, []);
  clock.advance(1);
  assert.equal(got, [0]);
  void bridge.close();
});

test("duplicateNext(n) delivers each of the next n datagrams twice", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const got = collect(bridge);
  bridge.duplicateNext(2, "a->b");
  sendMany(bridge, 3);
  clock.advance(1);
  assert.equal(got, [0, 0, 1, 1, 2]);
  assert.is(bridge.counters["a->b"].duplicated, 2);
  void bridge.close();
});

test("delayMs holds every datagram for exactly that long on the injected clock", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, delayMs: 50 });
  const got = collect(bridge);
  sendMany(bridge, 3);
  clock.advance(49);
  assert.equal(got, []);
  assert.is(bridge.inFlight(), 3);
  clock.advance(1);
  assert.equal(got, [0, 1, 2]);
  assert.is(bridge.inFlight(), 0);
  void bridge.close();
});

test("delayMs works on real timers too", async () => {
  const bridge = createBridge({ delayMs: 30 });
  const started = performance.now();
  const arrived = new Promise<number>((resolve) => bridge.b.onMessage(() => resolve(performance.now())));
  bridge.a.send(bytes(1), bridge.addressOf("b"));
  const at = await arrived;
  assert.ok(at - started >= 29, `arrived after ${at - started} ms`);
  await bridge.close();
});

test("a seeded loss rate drops about that fraction, and the same seed drops the same datagrams", () => {
  const run = (seed: number) => {
    const clock = new ManualClock();
    const bridge = createBridge({ clock, seed, lossRate: 0.1 });
    const got = collect(bridge);
    sendMany(bridge, 10_000);
    clock.advance(1);
    void bridge.close();
    return { got, lost: bridge.counters["a->b"].lost };
  };
  const first = run(42);
  const again = run(42);
  const other = run(43);
  assert.ok(first.lost > 850 && first.lost < 1150, `lost ${first.lost} of 10000 at 10%`);
  assert.is(first.got.length + first.lost, 10_000);
  assert.equal(again.got, first.got);
  assert.not.equal(other.got, first.got);
});

test("setLossRate(1) silences a direction; setLossRate(0) restores it", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const got = collect(bridge);
  bridge.setLossRate(1, "a->b");
  sendMany(bridge, 3);
  bridge.setLossRate(0);
  sendMany(bridge, 1);
  clock.advance(1);
  assert.equal(got, [0]);
  void bridge.close();
});

test("reorder and duplicate rates are seeded and keep every datagram", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, seed: 7, delayMs: 1, reorderRate: 0.1, duplicateRate: 0.05 });
  const got = collect(bridge);
  sendMany(bridge, 2000);
  clock.advance(1000);
  const c = bridge.counters["a->b"];
  assert.is(got.length, 2000 + c.duplicated);
  assert.equal([...new Set(got)].sort((x, y) => x - y), Array.from({ length: 2000 }, (_, i) => i));
  assert.ok(c.reordered > 100 && c.duplicated > 40, JSON.stringify(c));
  assert.not.equal(got.slice(0, 50), Array.from({ length: 50 }, (_, i) => i), "some datagrams arrive out of order");
  void bridge.close();
});

test("mtu drops longer datagrams and maxDatagramSize() reports it", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, mtu: 1200 });
  const sizes: number[] = [];
  bridge.b.onMessage((d) => sizes.push(d.length));
  for (const n of [1200, 1201, 100]) bridge.a.send(new Uint8Array(n), bridge.addressOf("b"));
  clock.advance(1);
  assert.equal(sizes, [1200, 100]);
  assert.is(bridge.counters["a->b"].tooBig, 1);
  assert.is(bridge.a.maxDatagramSize(), 1200);
  assert.is(createBridge({ mtu: 1200, maxDatagramSize: 9000 }).a.maxDatagramSize(), 9000);
  void bridge.close();
});

test("the filter hook drops the datagrams it rejects (e.g. one chunk type)", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const got = collect(bridge);
  let dropped = 0;
  bridge.filter = (data, dir) => {
    if (dir === "a->b" && data[0] === 1 && dropped === 0) {
      dropped++;
      return false;
    }
    return true;
  };
  sendMany(bridge, 3);
  bridge.a.send(bytes(1, 0), bridge.addressOf("b"));
  clock.advance(1);
  assert.equal(got, [0, 2, 1]);
  assert.is(bridge.counters["a->b"].filtered, 1);
  void bridge.close();
});

test("a datagram addressed to neither end is dropped as misrouted", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const got = collect(bridge);
  bridge.a.send(bytes(1), { address: "10.0.0.2", port: 5001 });
  bridge.a.send(bytes(2), { address: "10.9.9.9", port: 5000 });
  clock.advance(1);
  assert.equal(got, []);
  assert.is(bridge.counters["a->b"].misrouted, 2);
  void bridge.close();
});

test("inject() delivers a stray datagram with a spoofed source address", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const seen: string[] = [];
  bridge.b.onMessage((d, from) => seen.push(`${d[0]}@${from.address}:${from.port}`));
  bridge.inject("b", bytes(5), { address: "10.6.6.6", port: 666 });
  clock.advance(0);
  assert.equal(seen, ["5@10.6.6.6:666"]);
  void bridge.close();
});

test("rateBytesPerSec spaces datagrams out and a full queue drops the excess", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, rateBytesPerSec: 10_000, queueBytes: 5_000 });
  const at: number[] = [];
  bridge.b.onMessage(() => at.push(clock.now()));
  for (let i = 0; i < 8; i++) bridge.a.send(new Uint8Array(1000), bridge.addressOf("b"));
  clock.advance(2000);
  assert.equal(at, [100, 200, 300, 400, 500]);
  assert.is(bridge.counters["a->b"].queueDrops, 3);
  void bridge.close();
});

test("close() cancels pending deliveries and later sends are dropped", async () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock, delayMs: 10 });
  const got = collect(bridge);
  sendMany(bridge, 2);
  await bridge.close();
  assert.is(clock.pending(), 0, "no timer left behind");
  sendMany(bridge, 2);
  clock.advance(100);
  assert.equal(got, []);
});

test("closing one end drops datagrams addressed to it", () => {
  const clock = new ManualClock();
  const bridge = createBridge({ clock });
  const got = collect(bridge);
  void bridge.b.close();
  sendMany(bridge, 1);
  clock.advance(1);
  assert.equal(got, []);
  assert.is(bridge.counters["a->b"].misrouted, 1);
  void bridge.close();
});

test("prng() is deterministic per seed and uniform enough", () => {
  const r1 = prng(5);
  const r2 = prng(5);
  let sum = 0;
  for (let i = 0; i < 10_000; i++) {
    const x = r1();
    assert.is(x, r2());
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.02);
});

test("the SCTP stack's ManualClock drives the bridge too (one clock for link and associations)", () => {
  const clock = new StackClock();
  const bridge = createBridge({ clock, delayMs: 20 });
  const got = collect(bridge);
  sendMany(bridge, 2);
  clock.advance(19);
  assert.equal(got, []);
  clock.advance(1);
  assert.equal(got, [0, 1]);
  void bridge.close();
});

test.run();
