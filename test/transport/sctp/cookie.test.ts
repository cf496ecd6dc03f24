import { test } from "uvu";
import * as assert from "uvu/assert";
import { type CookieState, CookieJar } from "../../../src/transport/sctp/cookie.ts";

const state: CookieState = {
  flags: 1, localTag: 0x11223344, peerTag: 0xaabbccdd, localTieTag: 0, peerTieTag: 7,
  localInitialTsn: 0xfffffff0, peerInitialTsn: 5, peerRwnd: 1 << 20, outboundStreams: 10, inboundStreams: 65535,
  localPort: 6969, peerPort: 5000, address: "::ffff:127.0.0.1", udpPort: 40000,
};

test("a cookie opens to the state it was made from", () => {
  let now = 1000;
  const jar = new CookieJar(60_000, () => now);
  const r = jar.open(jar.make(state));
  assert.ok(r.ok);
  assert.equal(r.ok && r.state, state);
});

test("a cookie past its lifetime is stale, with its staleness in microseconds", () => {
  let now = 1000;
  const jar = new CookieJar(500, () => now);
  const c = jar.make(state);
  now += 750;
  const r = jar.open(c);
  assert.is(r.ok, false);
  assert.is(!r.ok && r.reason, "stale");
  assert.is(!r.ok && r.reason === "stale" && r.stalenessUs, 250_000);
});

test("a cookie with any byte changed, truncated, or made under another secret is invalid", () => {
  const jar = new CookieJar(60_000, () => 0);
  const c = jar.make(state);
  for (let i = 0; i < c.length; i += 7) {
    const bad = c.slice();
    bad[i] ^= 0x01;
    assert.equal(jar.open(bad), { ok: false, reason: "invalid" }, `byte ${i}`);
  }
  assert.equal(jar.open(c.subarray(0, c.length - 1)), { ok: false, reason: "invalid" });
  assert.equal(jar.open(new Uint8Array(0)), { ok: false, reason: "invalid" });
  assert.equal(new CookieJar(60_000, () => 0).open(c), { ok: false, reason: "invalid" });
});

test.run();
