/** The client's own stall limit: how long it is, and that only standing still (not being busy) trips it. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MAX_CLIENT_STALL_MS, stallLimitMs, watchStall } from "../../src/client/stall.ts";

test("the limit outlasts the server's own: twice its longest timeout plus up to 10 s, doubled only up to 30 minutes", () => {
  assert.is(stallLimitMs({ idleTimeoutMs: 300_000, offerTimeoutMs: 60_000 }), 610_000);
  assert.is(stallLimitMs({ idleTimeoutMs: 200, offerTimeoutMs: 100 }), 600);
  assert.is(stallLimitMs({ idleTimeoutMs: 20 * 60_000, offerTimeoutMs: 60_000 }), MAX_CLIENT_STALL_MS);
  // Never shorter than what the server itself allows: an hour to answer an offer, 24 days idle.
  assert.is(stallLimitMs({ idleTimeoutMs: 300_000, offerTimeoutMs: 3_600_000 }), 3_610_000);
  assert.is(stallLimitMs({ idleTimeoutMs: 24 * 86_400_000, offerTimeoutMs: 60_000 }), 24 * 86_400_000 + 10_000);
  assert.is(stallLimitMs({ idleTimeoutMs: Number.NaN, offerTimeoutMs: 0 }), MAX_CLIENT_STALL_MS);
});

/** Runs a watch of `limitMs` for `runMs` while `tick` is called every 10 ms; resolves with the seconds reported, if any. */
function watch(limitMs: number, runMs: number, tick: (i: number) => void, progress: () => number, busy?: () => boolean): Promise<number | undefined> {
  return new Promise((resolve) => {
    let i = 0;
    const ticker = setInterval(() => tick(i++), 10);
    const stop = watchStall(limitMs, progress, (s) => {
      clearInterval(ticker);
      clearTimeout(end);
      resolve(s);
    }, { busy });
    const end = setTimeout(() => {
      clearInterval(ticker);
      stop();
      resolve(undefined);
    }, runMs);
  });
}

test("progress that stands still trips it once, after the limit", async () => {
  const t0 = Date.now();
  const fired = await watch(100, 2000, () => {}, () => 7);
  assert.is(fired, 0);
  assert.ok(Date.now() - t0 >= 100, `fired after ${Date.now() - t0} ms`);
});

test("progress that keeps moving, or time spent busy, does not trip it", async () => {
  let n = 0;
  assert.is(await watch(100, 400, () => n++, () => n), undefined);
  assert.is(await watch(100, 400, () => {}, () => 7, () => true), undefined);
});

test("after a busy spell, standing still trips it again", async () => {
  let busy = true;
  const fired = await watch(100, 2000, (i) => (busy = i < 20), () => 7, () => busy);
  assert.is(fired, 0);
});

test.run();
