import { test } from "uvu";
import * as assert from "uvu/assert";
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { deflateRawSync } from "node:zlib";
import { isSfxError } from "../../src/errors.ts";
import { codeKey, generateCode, parseCode, shareSecrets } from "../../src/share/code.ts";
import { ShareCipher } from "../../src/share/share_crypto.ts";

const FILES = [
  { path: "plans/launch.txt", size: 12, sha256: "ab".repeat(32) },
  { path: "ünïcode/名前.md", size: 0, sha256: "cd".repeat(32) },
];

function refused(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
    assert.match((err as Error).message, message);
    return;
  }
  assert.unreachable("opened");
}

test("a code however typed gives one lookup and one set of keys; codes differ in all three, and the lookup is neither the code nor a key", () => {
  const code = generateCode();
  const typed = [code, code.toLowerCase(), code.replace(/-/g, " "), code.replace(/0/g, "O").replace(/1/g, "l")];
  const lookups = new Set(typed.map((c) => ShareCipher.of(c).lookup));
  assert.is(lookups.size, 1);
  const a = shareSecrets(code);
  const b = shareSecrets(generateCode());
  assert.match(a.lookup, /^[0-9a-f]{64}$/);
  assert.is.not(a.lookup, b.lookup);
  assert.not.ok(a.dataKey.equals(b.dataKey));
  assert.not.ok(a.dataKey.equals(a.listKey));
  for (const key of [a.dataKey, a.listKey]) assert.not.ok(a.lookup.includes(key.toString("hex").slice(0, 16)));
  // The store finds it the same whether given the lookup (from a client) or the code (in the process).
  assert.is(codeKey(a.lookup), codeKey(code));
  assert.is.not(codeKey(a.lookup), codeKey(b.lookup));
});

test("a code of 20 characters is a share in the clear's: it has no keys", () => {
  const old = generateCode(true);
  assert.is(parseCode(old).length, 20);
  try {
    ShareCipher.of(old);
    assert.unreachable("keys from an old code");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_BAD_CODE"), String(err));
  }
});

test("a sealed list opens with its code, to the same files in the same order; sealing twice gives different bytes", () => {
  const keys = ShareCipher.generate();
  const one = keys.seal(FILES);
  const two = keys.seal(FILES);
  assert.is.not(one, two);
  assert.equal(ShareCipher.of(keys.code).open(one), FILES);
  assert.equal(ShareCipher.of(keys.code).open(two), FILES);
  // Names compress: a thousand files of one folder seal to far less than their names take.
  const many = Array.from({ length: 1000 }, (_, i) => ({ path: `photos/2026/holiday/IMG_${1000 + i}.jpg`, size: i, sha256: randomBytes(32).toString("hex") }));
  const sealed = keys.seal(many);
  assert.ok(sealed.length < JSON.stringify(many).length * 0.75, `${sealed.length} of ${JSON.stringify(many).length}`);
  assert.equal(keys.open(sealed), many);
});

test("a sealed list does not open with another code, with any byte changed, cut short, or as something else", () => {
  const keys = ShareCipher.generate();
  const sealed = Buffer.from(keys.seal(FILES), "base64");
  refused(() => ShareCipher.generate().open(sealed.toString("base64")), /does not open with this code's key/);
  for (const at of [0, 11, 12, sealed.length >> 1, sealed.length - 17, sealed.length - 1]) {
    const changed = Buffer.from(sealed);
    changed[at] ^= 0x40;
    refused(() => keys.open(changed.toString("base64")), /does not open/);
  }
  refused(() => keys.open(sealed.subarray(0, 20).toString("base64")), /too short/);
  refused(() => keys.open(sealed.subarray(0, sealed.length - 1).toString("base64")), /does not open/);
  refused(() => keys.open(""), /too short/);
});

/** Seals `plain` under `code`'s list key as sfx does (to make lists sfx would not). */
function sealRaw(code: string, plain: Buffer): string {
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", shareSecrets(code).listKey, iv).setAAD(Buffer.from("sfx share list v1"));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]).toString("base64");
}

test("a list that opens but is not sfx's is refused, and one that would inflate past 32 MiB is not inflated", () => {
  const code = generateCode();
  const keys = ShareCipher.of(code);
  const bad = [
    deflateRawSync("not json"),
    deflateRawSync(JSON.stringify({ v: 2, files: [["a", 1, "ab".repeat(32)]] })),
    deflateRawSync(JSON.stringify({ v: 1, files: [] })),
    deflateRawSync(JSON.stringify({ v: 1, files: [["a", -1, "ab".repeat(32)]] })),
    deflateRawSync(JSON.stringify({ v: 1, files: [["a", 1, "AB".repeat(32)]] })),
    deflateRawSync(JSON.stringify({ v: 1, files: [[1, 1, "ab".repeat(32)]] })),
    Buffer.from("not deflated at all"),
  ];
  for (const plain of bad) refused(() => keys.open(sealRaw(code, plain)), /opens but is not one sfx made/);
  const bomb = deflateRawSync(Buffer.alloc(40 * 2 ** 20, 0x20));
  assert.ok(bomb.length < 100_000);
  refused(() => keys.open(sealRaw(code, bomb)), /opens but is not one sfx made/);
});

test("a file's key stream: resumed at any byte, in pieces of any size, it is the whole file's; files and codes never share one", () => {
  const keys = ShareCipher.generate();
  const plain = randomBytes(100_000);
  const whole = Buffer.from(plain);
  keys.cipher(7, 0).apply(whole);
  assert.not.ok(whole.equals(plain));
  for (const start of [0, 1, 15, 16, 4097, 65_536, 99_999]) {
    const rest = Buffer.from(plain.subarray(start));
    const c = ShareCipher.of(keys.code).cipher(7, start);
    for (let at = 0, piece = 1; at < rest.length; at += piece, piece = (piece * 7) % 70_001 + 1) c.apply(rest.subarray(at, at + piece));
    assert.ok(rest.equals(whole.subarray(start)), `from ${start}`);
  }
  const other = Buffer.from(plain);
  keys.cipher(8, 0).apply(other);
  const otherCode = Buffer.from(plain);
  ShareCipher.generate().cipher(7, 0).apply(otherCode);
  const hash = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  assert.is(new Set([hash(whole), hash(other), hash(otherCode)]).size, 3);
});

test.run();
