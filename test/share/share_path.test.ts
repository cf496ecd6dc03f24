import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkSharePath, checkSharePaths } from "../../src/share/share_path.ts";
import { refused } from "../_refused.ts";

test("checkSharePath() keeps ordinary relative paths, in NFC", () => {
  assert.is(checkSharePath("a.txt"), "a.txt");
  assert.is(checkSharePath("dir/sub/b c.bin"), "dir/sub/b c.bin");
  assert.is(checkSharePath("cafe\u0301.txt"), "caf\u00e9.txt");
  assert.is(checkSharePath(".hidden"), ".hidden");
  // Ordinary names on Linux and macOS, only unusual on Windows: kept.
  for (const p of ["C:x", "what?.txt", "dir/NUL.txt", "aux.c", "backup 12:30.tar", "trailing. "]) assert.is(checkSharePath(p), p);
  // Invisible characters real names carry (an RTL application's marks, a space pasted from a web page):
  // kept, as shares stored with them must stay valid.
  for (const p of ["\u200fIMG_0001.jpg", "note\u200b.txt", "\ufeffreport.csv", "a\u061cb"]) assert.is(checkSharePath(p), p);
});

test("checkSharePath() refuses hostile names with SFX_BAD_ARGUMENT saying why", () => {
  const cases: [string, RegExp][] = [
    ["", /empty/],
    ["/etc/passwd", /absolute/],
    ["../x", /'\.\.'/],
    ["a/../../x", /'\.\.'/],
    ["./x", /'\.'/],
    ["a//b", /empty component/],
    ["a/", /empty component/],
    ["a\\..\\b", /backslash/],
    ["evil\nname", /control/],
    ["bell\u0007", /control/],
    ["esc\u001b[31m", /control/],
    ["del\u007f", /control/],
    ["rtl\u202etxt.exe", /control/],
    ["x".repeat(256), /longer than 255/],
    [("abcdefgh/").repeat(120) + "x", /longer than 1024|deeper/],
    [Array.from({ length: 40 }, () => "d").join("/"), /deeper/],
    ["x.sfx-part", /reserved for partial files/],
  ];
  for (const [path, why] of cases) refused(() => checkSharePath(path), why);
});

test("checkSharePaths() refuses duplicates (ignoring case) and a file that is another's directory", () => {
  assert.equal(checkSharePaths(["a", "b/c", "b/d"]), ["a", "b/c", "b/d"]);
  refused(() => checkSharePaths(["a.txt", "A.TXT"]), /"A\.TXT": another file, "a\.txt", differs from it only in case or Unicode form/);
  // Two names that look the same, one composed (NFC) and one decomposed (NFD): said where they differ.
  refused(() => checkSharePaths(["caf\u00e9", "cafe\u0301"]), /another file, "café", differs from it only in Unicode form \(caf\\u\{e9\} and cafe\\u\{301\}; /);
  refused(() => checkSharePaths(["same", "same"]), /another file, "same", has the same name/);
  // A long name is cut, and still quoted whole.
  refused(() => checkSharePaths([`${"x".repeat(150)}/a`, `${"x".repeat(150)}/A`]), new RegExp(`"${"x".repeat(100)}…": another file`));
  refused(() => checkSharePaths(["a", "a/b"]), /directory of another/);
  refused(() => checkSharePaths(["a/b", "a"]), /directory of another/);
});

test.run();
