/** An exchange's keys and cipher (src/protocol/exchange_crypto.ts). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { isSfxError } from "../../src/errors.ts";
import { commitmentOf, ExchangeCipher, ExchangeKeyPair, type OfferedFileKey, SMALL_PIECE } from "../../src/protocol/exchange_crypto.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

const FILES: OfferedFileKey[] = [{ path: "report.pdf", size: 5000, modified: 1_764_000_000_000 }, { path: "notes/a.txt", size: 3 }];

function pair(sent: OfferedFileKey[] = FILES, got: OfferedFileKey[] = sent) {
  const sender = ExchangeKeyPair.generate();
  const receiver = ExchangeKeyPair.generate();
  return {
    sender,
    receiver,
    s: sender.agree(receiver.publicKey, "sender", { files: sent }),
    r: receiver.agree(sender.publicKey, "receiver", { files: got, commitment: sender.commitment }),
  };
}

test("both ends derive the same keys: the same six-digit code, and what one enciphers the other deciphers", () => {
  const { s, r } = pair();
  assert.match(s.code, /^\d{3}-\d{3}$/);
  assert.is(s.code, r.code);
  const plain = randomBytes(100_000);
  const data = new Uint8Array(plain);
  s.cipher(0, 0).apply(data);
  assert.not.equal(Buffer.from(data), plain, "enciphered");
  assert.is(Buffer.from(data).indexOf(plain.subarray(0, 16)), -1, "no 16 bytes of it in clear");
  r.cipher(0, 0).apply(data);
  assert.equal(Buffer.from(data), plain);
});

test("a file's key stream from any byte (a resume) is the stream from its start, cut there; pieces of any size follow on", () => {
  const { s } = pair();
  const plain = randomBytes(5000);
  const whole = new Uint8Array(plain);
  s.cipher(3, 0).apply(whole);
  for (const from of [1, 15, 16, 17, 1000, 4999]) {
    const c = s.cipher(3, from);
    const rest = new Uint8Array(plain.subarray(from));
    for (let at = 0; at < rest.length; at += 7) c.apply(rest.subarray(at, Math.min(at + 7, rest.length)));
    assert.equal(Buffer.from(rest), Buffer.from(whole.subarray(from)), `from byte ${from}`);
  }
});

test("small pieces (their key stream from single blocks) and large ones (a CTR context) are the same key stream: mixed, across the switch, far into a file", () => {
  const { s } = pair();
  for (const [file, from] of [[0, 0], [7, 5], [2, 2 ** 36 + 3], [1, 2 ** 40 - 20]] as const) {
    const plain = randomBytes(3 * SMALL_PIECE + 100);
    const whole = new Uint8Array(plain);
    s.cipher(file, from).apply(whole); // one large piece: CTR
    const mixed = new Uint8Array(plain);
    const c = s.cipher(file, from);
    let at = 0;
    for (const n of [1, 15, 16, 17, SMALL_PIECE - 1, 2 * SMALL_PIECE, 3, 40, Infinity]) {
      c.apply(mixed.subarray(at, Math.min(at + n, mixed.length)));
      at = Math.min(at + n, mixed.length);
    }
    assert.is(at, mixed.length);
    assert.equal(Buffer.from(mixed), Buffer.from(whole), `file ${file} from byte ${from}`);
  }
});

test("no two files share a key stream, and no two exchanges do", () => {
  const { s } = pair();
  const zeros = () => new Uint8Array(64);
  const a = zeros(), b = zeros();
  s.cipher(0, 0).apply(a);
  s.cipher(1, 0).apply(b);
  assert.not.equal(a, b);
  const other = pair().s;
  const c = zeros();
  other.cipher(0, 0).apply(c);
  assert.not.equal(a, c);
});

test("an end's tag vouches for the file's index, size and hash, and nothing else", () => {
  const { s, r } = pair();
  const hash = sha(Buffer.from("the file"));
  const tag = s.endTag(2, 8, hash);
  assert.ok(r.checkEnd(2, 8, hash, tag));
  assert.not.ok(r.checkEnd(1, 8, hash, tag), "another file's");
  assert.not.ok(r.checkEnd(2, 9, hash, tag), "another size");
  assert.not.ok(r.checkEnd(2, 8, sha(Buffer.from("the filf")), tag), "other bytes");
  assert.not.ok(r.checkEnd(2, 8, hash, hash), "the bare hash (what a sender without the key would send)");
  assert.not.ok(pair().r.checkEnd(2, 8, hash, tag), "another exchange's keys");
});

test("someone between the two who gives each end a key of its own is found out: the receiver refuses a sender key that is not the committed one, and keys of its own give other codes", () => {
  const sender = ExchangeKeyPair.generate();
  const receiver = ExchangeKeyPair.generate();
  const middle = ExchangeKeyPair.generate();
  // It passes the sender's commitment on, but then its own key: refused.
  let err: unknown;
  try {
    receiver.agree(middle.publicKey, "receiver", { files: FILES, commitment: sender.commitment });
  } catch (e) {
    err = e;
  }
  assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  assert.match((err as Error).message, /not the one its offer committed to/);
  // It commits to its own key instead: each end agrees with the middle, and the codes differ.
  const towardsReceiver = receiver.agree(middle.publicKey, "receiver", { files: FILES, commitment: middle.commitment });
  const towardsSender = sender.agree(middle.publicKey, "sender", { files: FILES });
  assert.is.not(towardsReceiver.code, towardsSender.code);
  assert.is(commitmentOf(sender.publicKey), sender.commitment);
});

test("the keys are bound to the list of files offered: a name swapped, a file dropped, a size or time changed on the way gives the receiver other keys (another code, and no file passes its check)", () => {
  const swapped: OfferedFileKey[] = [{ ...FILES[0], path: "notes/a.txt" }, { ...FILES[1], path: "report.pdf" }];
  const variants: Array<[string, OfferedFileKey[]]> = [
    ["names swapped", swapped],
    ["a file dropped", FILES.slice(0, 1)],
    ["a size changed", [{ ...FILES[0], size: 5001 }, FILES[1]]],
    ["a time changed", [{ ...FILES[0], modified: 1_764_000_000_001 }, FILES[1]]],
    ["a time added", [FILES[0], { ...FILES[1], modified: 0 }]],
  ];
  for (const [what, got] of variants) {
    const { s, r } = pair(FILES, got);
    assert.is.not(s.code, r.code, what);
    const hash = sha(Buffer.from("x"));
    assert.not.ok(r.checkEnd(0, 1, hash, s.endTag(0, 1, hash)), `${what}: an end fails`);
  }
  const same = pair(FILES, FILES.map((f) => ({ ...f })));
  assert.is(same.s.code, same.r.code, "the same list, another copy of it");
});

test("the tags are HMAC-SHA-256 (RFC 2104) as node:crypto computes it", () => {
  const macKey = randomBytes(32);
  const c = new ExchangeCipher(randomBytes(32), macKey, 0);
  const hash = sha(Buffer.from("x"));
  const head = Buffer.alloc(12);
  head.writeUInt32BE(3, 0);
  head.writeBigUInt64BE(123456789012n, 4);
  const want = createHmac("sha256", macKey).update("sfx end v1\0").update(head).update(Buffer.from(hash, "hex")).digest("hex");
  assert.is(c.endTag(3, 123456789012, hash), want);
  const count = Buffer.from([0, 0, 0, 1]);
  assert.is(c.doneTag([want]), createHmac("sha256", macKey).update("sfx done v1\0").update(count).update(Buffer.from(want, "hex")).digest("hex"));
});

test("the receiver's done vouches for the ends it checked, and only those", () => {
  const { s, r } = pair();
  const ends = [s.endTag(0, 5000, sha(Buffer.from("a"))), s.endTag(1, 3, sha(Buffer.from("b")))];
  const done = r.doneTag(ends);
  assert.ok(s.checkDone(ends, done));
  assert.not.ok(s.checkDone(ends.slice(0, 1), done), "one file fewer");
  assert.not.ok(s.checkDone([ends[1], ends[0]], done), "in another order");
  assert.not.ok(s.checkDone(ends, undefined), "no tag (an older receiver, or one the server made up)");
  assert.not.ok(pair().s.checkDone(ends, done), "another exchange's keys");
});

test("a key that is not one is refused: malformed, or a point of small order (an all-zero secret)", () => {
  const me = ExchangeKeyPair.generate();
  for (const bad of ["00", "zz".repeat(32), "0".repeat(64), "01" + "0".repeat(62)]) {
    let err: unknown;
    try {
      me.agree(bad, "sender", { files: FILES });
    } catch (e) {
      err = e;
    }
    assert.ok(isSfxError(err, "SFX_PROTOCOL"), `${bad}: ${String(err)}`);
  }
});

test.run();
