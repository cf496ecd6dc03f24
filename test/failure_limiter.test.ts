import { test } from "uvu";
import * as assert from "uvu/assert";
import { isSfxError } from "../src/errors.ts";
import { addressKey, hostKey, LookupLimiter } from "../src/failure_limiter.ts";

test("check() refuses an address with SFX_LIMIT after its burst of failures, and not others", () => {
  const t = 0;
  const lim = new LookupLimiter({ burst: 3, perMinute: 6, now: () => t, refusal: "Too many wrong share codes" });
  for (let i = 0; i < 3; i++) {
    lim.check("10.0.0.1");
    lim.fail("10.0.0.1");
  }
  try {
    lim.check("10.0.0.1");
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_LIMIT"));
    assert.match((err as Error).message, /Too many wrong share codes.*try again in 10 s/);
  }
  lim.check("10.0.0.2");
});

test("check() lets an address try again once a token has been earned back", () => {
  let t = 1000;
  const lim = new LookupLimiter({ burst: 1, perMinute: 6, now: () => t, refusal: "Too many wrong share codes" });
  lim.fail("a");
  assert.throws(() => lim.check("a"), (e: unknown) => isSfxError(e, "SFX_LIMIT"));
  t += 9_999;
  assert.throws(() => lim.check("a"), (e: unknown) => isSfxError(e, "SFX_LIMIT"));
  t += 1;
  lim.check("a");
});

test("a full bucket is forgotten, and at most maxSources addresses are remembered", () => {
  let t = 0;
  const lim = new LookupLimiter({ burst: 2, perMinute: 60, now: () => t, maxSources: 10, refusal: "Too many wrong share codes" });
  for (let i = 0; i < 50; i++) lim.fail(`10.0.0.${i}`);
  assert.is(lim.size, 10);
  t += 60_000;
  for (let i = 40; i < 50; i++) lim.check(`10.0.0.${i}`);
  assert.is(lim.size, 0);
});

test("addressKey(): IPv4 as it is (also IPv4-mapped), IPv6 by its /64, however it is written; link-local by itself and its interface (fe80::/64 is every link's)", () => {
  assert.is(addressKey("10.0.0.1"), "10.0.0.1");
  assert.is(addressKey("::ffff:10.0.0.1"), "10.0.0.1");
  assert.is(addressKey("2001:db8:0:1::5"), "2001:db8:0:1::/64");
  assert.is(addressKey("2001:0DB8:0000:0001:aaaa:bbbb:cccc:dddd"), "2001:db8:0:1::/64");
  assert.is(addressKey("::1"), "0:0:0:0::/64");
  assert.not.equal(addressKey("2001:db8:0:2::5"), addressKey("2001:db8:0:1::5"));
  assert.is(addressKey("fe80::1%eth0"), "fe80::1%eth0");
  assert.not.equal(addressKey("fe80::1%eth0"), addressKey("fe80::2%eth0"));
  assert.not.equal(addressKey("fe80::1%eth0"), addressKey("fe80::1%eth1"));
});

test("hostKey(): one key per address (a LAN's hosts share one /64 under IPv6 autoconfiguration: they must not count as one client); IPv4-mapped as IPv4", () => {
  assert.is(hostKey("10.0.0.1"), "10.0.0.1");
  assert.is(hostKey("::ffff:10.0.0.1"), "10.0.0.1");
  assert.not.equal(hostKey("2001:db8:0:1::5"), hostKey("2001:db8:0:1::6"));
  assert.is(hostKey("2001:DB8::5"), "2001:db8::5");
  assert.not.equal(hostKey("fe80::1%eth0"), hostKey("fe80::1%eth1"));
});

test.run();
