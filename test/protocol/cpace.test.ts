/** CPace over X25519 (src/protocol/cpace.ts), against draft-irtf-cfrg-cpace's test vectors (appendix B.1). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { isSfxError } from "../../src/errors.ts";
import { Cpace, cpaceGenerator, elligator2, lvCat } from "../../src/protocol/cpace.ts";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");

// Appendix B.1: CPace using group X25519 and hash SHA-512.
const CTX = { ci: hex("0b415f696e69746961746f720b425f726573706f6e646572"), sid: hex("7e4b4791d6a8ef019b936c79fb7f2c57") };
const YA_SCALAR = hex("21b4f4bd9e64ed355c3eb676a28ebedaf6d8f17bdc365995b319097153044080");
const YB_SCALAR = hex("848b0779ff415f0af4ea14df9dd1d3c29ac41d836c7808896c4eba19c51ac40a");

test("lv_cat prefixes each part with its LEB128 length (the draft's vectors)", () => {
  assert.is(lvCat(Buffer.from("1234"), Buffer.from("5"), Buffer.alloc(0), Buffer.from("678")).toString("hex"), "043132333401350003363738");
  assert.is(lvCat(Buffer.alloc(0)).toString("hex"), "00");
  const long = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
  assert.is(lvCat(long).subarray(0, 3).toString("hex"), "800100");
});

test("the generator for 'Password' is the draft's: zero padding, SHA-512, and Elligator 2", () => {
  assert.is(cpaceGenerator("Password", CTX).toString("hex"), "d04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b62f05a73f");
});

test("Elligator 2 gives points on the curve, not the twist: g(u) is a square for every input", () => {
  const p = 2n ** 255n - 19n;
  const pow = (b: bigint, e: bigint) => {
    let r = 1n;
    for (b %= p; e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) r = (r * b) % p;
    return r;
  };
  for (let i = 0; i < 64; i++) {
    const r = BigInt("0x" + randomBytes(32).toString("hex")) % p;
    const u = elligator2(r);
    const gu = (u * u * u + 486662n * u * u + u) % p;
    assert.ok(pow(gu, (p - 1n) / 2n) <= 1n, `g(u) is a square for r = ${r}`);
  }
});

test("the messages, the secret point and the initiator-responder ISK are the draft's", () => {
  const a = Cpace.withScalar(YA_SCALAR, "Password", CTX, "ADa");
  const b = Cpace.withScalar(YB_SCALAR, "Password", CTX, "ADb");
  assert.is(a.share.toString("hex"), "1d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc989ce0c9f32");
  assert.is(b.share.toString("hex"), "248cccf6d5cdc3646f0ad593f9e6cef4e69d4945f8372e623512ecea32185623");
  const isk = "6e19b875f7a561d6b3ca3dbb9ef42ac55de3e717881018204b8922b4d5e53bb2aa82c300bea7b65d2b671da71922ddf6472301b79bc270adfa8bf413285f2263";
  const ka = a.finish(b.share, "ADb", "initiator"), kb = b.finish(a.share, "ADa", "responder");
  assert.is(ka.isk.toString("hex"), isk);
  assert.is(kb.isk.toString("hex"), isk);
  assert.ok(kb.checkTag(ka.tag) && ka.checkTag(kb.tag), "each side's tag checks on the other");
  assert.not.ok(ka.checkTag(ka.tag), "a side's own tag, reflected, does not pass as the other's");
});

test("another secret, session or associated data gives another key, and the tags do not check", () => {
  const sid = randomBytes(16);
  const run = (secretB: string, ctxB = { ci: "482913", sid }, adB = "ADa") => {
    const a = Cpace.start("305117", { ci: "482913", sid }, "ADa"), b = Cpace.start(secretB, ctxB, "ADb");
    const ka = a.finish(b.share, "ADb", "initiator"), kb = b.finish(a.share, adB, "responder");
    return { same: ka.isk.equals(kb.isk), tagsCheck: ka.checkTag(kb.tag) || kb.checkTag(ka.tag) };
  };
  assert.equal(run("305117"), { same: true, tagsCheck: true });
  assert.equal(run("305118"), { same: false, tagsCheck: false });
  assert.equal(run("305117", { ci: "482914", sid }), { same: false, tagsCheck: false });
  assert.equal(run("305117", { ci: "482913", sid: randomBytes(16) }), { same: false, tagsCheck: false });
  assert.equal(run("305117", undefined, "ADx"), { same: false, tagsCheck: false });
  const a = Cpace.start("305117", { ci: "482913", sid }, "ADa");
  const k = a.finish(Cpace.start("305117", { ci: "482913", sid }).share, "", "initiator");
  for (const bad of [undefined, "", "00", k.tag.slice(2), "zz".repeat(32)]) assert.not.ok(k.checkTag(bad), `tag ${bad}`);
});

test("shares of low order, on the curve or its twist, are refused (the draft's scalar_mult_vfy vectors u0–u5, u7)", () => {
  const lowOrder = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  ];
  const a = Cpace.start("305117", CTX);
  for (const u of lowOrder) {
    try {
      a.finish(hex(u), "", "initiator");
      assert.unreachable(`share ${u} accepted`);
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
    }
  }
  try {
    a.finish(hex("00"), "", "initiator");
    assert.unreachable("a short share accepted");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  }
});

test("a side's own share sent back (a reflection, by someone who knows nothing of the secret) is refused: with equal associated data its own tag would check as the other's", () => {
  const a = Cpace.start("305117", CTX);
  try {
    a.finish(a.share, "", "initiator");
    assert.unreachable("its own share accepted");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
    assert.match((err as Error).message, /this side's own, sent back/);
  }
});

test("non-canonical shares with bit 255 set give X25519's results (the draft's u6, u8–ub)", () => {
  const s = hex("af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff");
  const cases: Array<[string, string]> = [
    ["daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "d8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806"],
    ["dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38"],
    ["d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", "db64dafa9b8fdd136914e61461935fe92aa372cb056314e1231bc4ec12417456"],
    ["cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880", "e062dcd5376d58297be2618c7498f55baa07d7e03184e8aada20bca28888bf7a"],
    ["4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7", "993c6ad11c4c29da9a56f7691fd0ff8d732e49de6250b6c2e80003ff4629a175"],
  ];
  // The secret point is hashed into the ISK, so compare through a run whose other share is u: K = X25519(s, u).
  for (const [u, q] of cases) {
    const a = Cpace.withScalar(s, "x", CTX);
    const viaU = a.finish(hex(u), "", "initiator").isk;
    const viaQ = expectedIsk(a.share, hex(q), hex(u));
    assert.is(viaU.toString("hex"), viaQ.toString("hex"), `u = ${u}`);
  }
});

/** The ISK a run with share `mine` and peer share `peer` gets when its secret point is `k` (the draft's formula, written out here). */
function expectedIsk(mine: Uint8Array, k: Uint8Array, peer: Uint8Array): Buffer {
  return createHash("sha512").update(lvCat(Buffer.from("CPace255_ISK"), CTX.sid, k)).update(lvCat(mine, Buffer.alloc(0))).update(lvCat(peer, Buffer.alloc(0))).digest();
}

test.run();
