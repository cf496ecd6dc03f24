import { test } from "uvu";
import * as assert from "uvu/assert";
import { RateLimiter } from "../../src/discovery/rate_limit.ts";

function clock() {
  let t = 1000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test("take() lets a burst through, then refills at the rate", () => {
  const c = clock();
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 20, now: c.now });
  for (let i = 0; i < 20; i++) assert.ok(limiter.take("a"), `burst ${i}`);
  assert.not.ok(limiter.take("a"), "21st at once");
  c.advance(99);
  assert.not.ok(limiter.take("a"), "not a whole token after 99 ms");
  c.advance(1);
  assert.ok(limiter.take("a"), "one token after 100 ms");
  assert.not.ok(limiter.take("a"));
  c.advance(60_000);
  let passed = 0;
  while (limiter.take("a") && passed < 100) passed++;
  assert.is(passed, 20, "refills to the burst, no more");
});

test("take() keeps one bucket per key", () => {
  const c = clock();
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 2, now: c.now });
  assert.ok(limiter.take("a"));
  assert.ok(limiter.take("a"));
  assert.not.ok(limiter.take("a"));
  assert.ok(limiter.take("b"), "b is not charged for a");
  assert.ok(limiter.take("b"));
  assert.not.ok(limiter.take("b"));
});

test("a clock going backwards never adds tokens", () => {
  let t = 5000;
  const limiter = new RateLimiter({ ratePerSecond: 10, burst: 1, now: () => t });
  assert.ok(limiter.take("a"));
  t = 0;
  assert.not.ok(limiter.take("a"));
});

test("memory stays bounded: past maxKeys, refilled and then oldest buckets are forgotten", () => {
  const c = clock();
  const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100, now: c.now });
  for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
  assert.ok(limiter.size <= 100, `${limiter.size} keys`);
  // The most recent key is still remembered (and still empty).
  assert.not.ok(limiter.take(`10.0.${9999 >> 8}.${9999 & 255}`));
});

test("the constructor refuses non-positive settings", () => {
  assert.throws(() => new RateLimiter({ ratePerSecond: 0 }), RangeError);
  assert.throws(() => new RateLimiter({ burst: 0 }), RangeError);
  assert.throws(() => new RateLimiter({ maxKeys: 0 }), RangeError);
});

test.run();
