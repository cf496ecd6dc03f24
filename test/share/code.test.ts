import { test } from "uvu";
import * as assert from "uvu/assert";
import { isSfxError } from "../../src/errors.ts";
import { codeHint, codeKey, CROCKFORD_ALPHABET, formatCode, generateCode, isCode, isPlainCode, lookupOf, parseCode } from "../../src/share/code.ts";

test("generateCode() gives 24 Crockford characters in six hyphenated groups, and 20 in five for a share in the clear", () => {
  for (let i = 0; i < 200; i++) {
    const code = generateCode();
    assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$/);
    assert.is(parseCode(code), code.replace(/-/g, ""));
    assert.not.ok(isPlainCode(code));
    const plain = generateCode(true);
    assert.match(plain, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$/);
    assert.ok(isPlainCode(plain));
  }
});

test("generateCode() draws every alphabet character and never repeats a code", () => {
  const seen = new Set<string>();
  const chars = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const c = generateCode();
    assert.not.ok(seen.has(c));
    seen.add(c);
    for (const ch of c.replace(/-/g, "")) chars.add(ch);
  }
  assert.is(chars.size, CROCKFORD_ALPHABET.length);
});

test("parseCode() ignores case and hyphens and maps O to 0, I and L to 1", () => {
  const canonical = "7KQ2M9XD4T1FHB6RW3N0";
  for (const typed of ["7KQ2-M9XD-4T1F-HB6R-W3N0", "7kq2m9xd4t1fhb6rw3n0", "7kq2 m9xd 4t1f hb6r w3n0", "7KQ2-M9XD-4TIF-HB6R-W3NO", "7KQ2-M9XD-4TlF-HB6R-W3No"]) {
    assert.is(parseCode(typed), canonical, typed);
  }
  assert.is(codeKey("7kq2-m9xd-4tlf-hb6r-w3no"), codeKey("7KQ2M9XD4T1FHB6RW3N0"));
  assert.is(parseCode("7kq2-m9xd-4t1f-hb6r-w3np-5zoe"), "7KQ2M9XD4T1FHB6RW3NP5Z0E");
});

test("a code's check character refuses any one character mistyped and any two neighbours swapped (but 0 for Z, 31 apart), before the server is asked", () => {
  for (let round = 0; round < 20; round++) {
    const canonical = parseCode(generateCode());
    for (let i = 0; i < canonical.length; i++) {
      for (const c of CROCKFORD_ALPHABET) {
        if (c === canonical[i]) continue;
        const typo = canonical.slice(0, i) + c + canonical.slice(i + 1);
        const zeroForZ = i < 23 && new Set([c, canonical[i]]).size === 2 && [c, canonical[i]].sort().join("") === "0Z";
        if (zeroForZ) continue;
        assert.not.ok(isCode(typo), `${canonical} → ${typo}`);
      }
      if (i + 1 < canonical.length && canonical[i] !== canonical[i + 1] && [canonical[i], canonical[i + 1]].sort().join("") !== "0Z") {
        const swapped = canonical.slice(0, i) + canonical[i + 1] + canonical[i] + canonical.slice(i + 2);
        assert.not.ok(isCode(swapped), `${canonical} → ${swapped}`);
      }
    }
  }
  try {
    parseCode("7KQ2-M9XD-4T1F-HB6R-W3NP-5ZEA");
    assert.unreachable("accepted a mistyped code");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_BAD_CODE"));
    assert.match((err as Error).message, /^Invalid share code: it is mistyped \(its last character, a check on the others, does not match them\)/);
  }
});

test("lookupOf() never gives the code: a code of today's lookup, or v1: and a share in the clear's store key (a code of today cut to 20 characters gives away only a hash of them)", () => {
  const code = generateCode();
  const cut = parseCode(code).slice(0, 20);
  assert.match(lookupOf(code), /^[0-9a-f]{64}$/);
  assert.is(lookupOf(cut), `v1:${codeKey(cut)}`);
  assert.is(codeKey(lookupOf(cut)), codeKey(cut));
  assert.is(codeKey(lookupOf(code)), codeKey(code));
  for (const sent of [lookupOf(code), lookupOf(cut)]) assert.not.ok(sent.toUpperCase().includes(cut.slice(0, 8)), sent);
});

test("parseCode() refuses malformed codes with SFX_BAD_CODE", () => {
  for (const bad of ["", "7KQ2", "7KQ2-M9XD-4T1F-HB6R-W3N", "7KQ2-M9XD-4T1F-HB6R-W3NPX", "7KQ2-M9XD-4T1F-HB6R-W3NP-5ZE", "7KQ2-M9XD-4T1F-HB6R-W3NP-5ZEAX", "7KQ2-M9XD-4T1F-HB6R-W3NU", "7KQ2-M9XD-4T1F-HB6R-W3N!", "7KQ2-M9XD-4T1F-HB6R-W3N\u0000", "x".repeat(1000), "7KQ2_M9XD_4T1F_HB6R_W3NP"]) {
    try {
      parseCode(bad);
      assert.unreachable(`accepted ${JSON.stringify(bad)}`);
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_BAD_CODE"), String(err));
    }
    assert.not.ok(isCode(bad));
  }
});

test("codeKey() is a SHA-256 that differs from code to code and does not contain the code", () => {
  const a = generateCode();
  const b = generateCode();
  assert.match(codeKey(a), /^[0-9a-f]{64}$/);
  assert.is.not(codeKey(a), codeKey(b));
  assert.not.ok(codeKey(a).toUpperCase().includes(a.replace(/-/g, "").slice(0, 8)));
});

test("formatCode() and codeHint() show groups and only the first group", () => {
  assert.is(formatCode("ABCDEFGHJKMNPQRSTVWX"), "ABCD-EFGH-JKMN-PQRS-TVWX");
  assert.is(codeHint("abcd-efgh-jkmn-pqrs-tvwx"), "ABCD…");
});

test.run();
