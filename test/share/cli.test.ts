import { test } from "uvu";
import * as assert from "uvu/assert";
import { downloadCommand, gotDoneEvent, gotFileEvent, joinCodeGroups, parseExpires, shareServeArgs, shareServerOptions } from "../../src/cli/share.ts";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../src/cli/main.ts";
import { refused } from "../_refused.ts";

const NOW = Date.parse("2026-11-22T08:00:00Z");

test("joinCodeGroups(): a code typed in its groups with spaces is one code, and the words after it are the names; a whole code is left as it is", () => {
  assert.equal(joinCodeGroups(["7KQ2", "M9XD", "4T1F", "HB6R", "W3NP", "5ZET", "photos/a.jpg"]), { code: "7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET", rest: ["photos/a.jpg"] });
  // A whole code of the old length, then the last group of today's: one code (the check character says so).
  assert.equal(joinCodeGroups(["7KQ2-M9XD-4T1F-HB6R-W3NP", "5ZET", "a.txt"]), { code: "7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET", rest: ["a.txt"] });
  // An old code in groups, then a name that looks like a group (o reads as 0): the name, as its check fails.
  assert.equal(joinCodeGroups(["7KQ2", "M9XD", "4T1F", "HB6R", "W3NP", "docs"]), { code: "7KQ2-M9XD-4T1F-HB6R-W3NP", rest: ["docs"] });
  // A code of today, not the share in the clear's code its first five groups also make.
  assert.equal(joinCodeGroups(["7KQ2", "M9XD", "4T1F", "HB6R", "W3NP", "5ZET"]), { code: "7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET", rest: [] });
  assert.equal(joinCodeGroups(["7KQ2", "M9XD", "4T1F", "HB6R", "W3NP", "photos/a.jpg"]), { code: "7KQ2-M9XD-4T1F-HB6R-W3NP", rest: ["photos/a.jpg"] });
  assert.equal(joinCodeGroups(["7kq2-m9xd-4t1f-hb6r", "w3np"]), { code: "7kq2-m9xd-4t1f-hb6r-w3np", rest: [] });
  // A whole code first: what follows is names, however code-like.
  assert.equal(joinCodeGroups(["7KQ2-M9XD-4T1F-HB6R-W3NP", "ABCD"]), { code: "7KQ2-M9XD-4T1F-HB6R-W3NP", rest: ["ABCD"] });
  // No code to be made: left for the code's own error.
  assert.equal(joinCodeGroups(["7KQ2", "M9XD", "a.txt"]), { code: "7KQ2", rest: ["M9XD", "a.txt"] });
});

test("downloadCommand() names the server as given, quoted where a shell would change it (brackets glob, spaces split)", () => {
  const code = "7KQ2-M9XD-4T1F-HB6R-W3NP";
  assert.is(downloadCommand(code), `sfx share get ${code}`);
  assert.is(downloadCommand(code, "box"), `sfx share get ${code} --server box`);
  assert.is(downloadCommand(code, "10.0.0.5:6969"), `sfx share get ${code} --server 10.0.0.5:6969`);
  assert.is(downloadCommand(code, "[::1]:6969"), `sfx share get ${code} --server '[::1]:6969'`);
  assert.is(downloadCommand(code, "fe80::1%eth0"), `sfx share get ${code} --server fe80::1%eth0`);
  assert.is(downloadCommand(code, "it's here"), `sfx share get ${code} --server 'it'\\''s here'`);
});

test("share get --json says a file as receive --json does: savedAs relative to --dir (through a link too), unchanged when the bytes were there, resumedFrom only when resumed; done with megabytesPerSecond", () => {
  const real = mkdtempSync(join(tmpdir(), "sfx-got-"));
  const link = `${real}-link`;
  symlinkSync(real, link);
  try {
    const base = { name: "photos/a.jpg", size: 3, sha256: "ab".repeat(32) };
    assert.equal(gotFileEvent({ ...base, path: join(real, "photos", "a (1).jpg"), resumedFrom: 0, alreadyThere: false }, link), {
      event: "file", path: "photos/a.jpg", savedAs: "photos/a (1).jpg", size: 3, sha256: "ab".repeat(32), alreadyThere: false,
    });
    assert.equal(gotFileEvent({ ...base, path: join(real, "photos", "a.jpg"), resumedFrom: 2, alreadyThere: false }, real).resumedFrom, 2);
    assert.is(gotFileEvent({ ...base, path: join(real, "photos", "a.jpg"), resumedFrom: 0, alreadyThere: true }, real).unchanged, true);
    // One found already there is named under --dir as given (the link): relative to that, not "../link/…".
    assert.is(gotFileEvent({ ...base, path: join(link, "photos", "a.jpg"), resumedFrom: 0, alreadyThere: true }, link).savedAs, "photos/a.jpg");
    assert.equal(gotDoneEvent(2, 3_000_000, 1.5), { event: "done", files: 2, bytes: 3_000_000, seconds: 1.5, megabytesPerSecond: 2 });
    assert.is(gotDoneEvent(1, 1_234_567, 3).megabytesPerSecond, 0.412, "to three decimals, as receive --json's");
  } finally {
    rmSync(link, { force: true });
    rmSync(real, { recursive: true, force: true });
  }
});

test("parseExpires() reads durations as relative and ISO dates as absolute", () => {
  assert.equal(parseExpires("1h", NOW), { expiresInMs: 3_600_000 });
  assert.equal(parseExpires("7d", NOW), { expiresInMs: 7 * 86_400_000 });
  assert.equal(parseExpires("90s", NOW), { expiresInMs: 90_000 });
  for (const zero of ["0s", "0m", "0.0001s"]) assert.throws(() => parseExpires(zero, NOW), (e: Error) => /Invalid --expires '[^']+': at least 1s/.test(e.message));
  assert.equal(parseExpires("2026-12-01T18:00:00Z", NOW), { expiresAt: Date.parse("2026-12-01T18:00:00Z") });
  assert.equal(parseExpires("2026-12-01", NOW), { expiresAt: Date.parse("2026-12-01T00:00:00Z") });
});

test("parseExpires() refuses nonsense, past dates and sub-second durations with SFX_BAD_ARGUMENT", () => {
  refused(() => parseExpires("soon", NOW), /Invalid --expires 'soon'/);
  refused(() => parseExpires("2026-11-01", NOW), /has passed/);
  refused(() => parseExpires("2026-13-45", NOW), /not a date/);
  refused(() => parseExpires("500ms", NOW), /at least 1s/);
  // A day the month does not have (Date.parse would roll it into March).
  refused(() => parseExpires("2027-02-30", NOW), /Invalid --expires '2027-02-30': not a date/);
  // A bare number: seconds? days? The unit must be said.
  refused(() => parseExpires("10", NOW), /Invalid --expires '10': give a unit, e\.g\. 10m, 10h or 10d/);
  // Zero is no expiry to suggest units for; a sum of units is a duration; units are lowercase.
  refused(() => parseExpires("0", NOW), /Invalid --expires '0': at least 1s$/);
  assert.equal(parseExpires("1h30m", NOW), { expiresInMs: 90 * 60_000 });
  refused(() => parseExpires("1H", NOW), /Invalid --expires '1H': use a duration \(.*; units are lowercase\)/);
});

test("parseExpires(): a duration longer than any server allows asks for the longest, which the server shortens with a warning", () => {
  assert.equal(parseExpires("999999d", NOW), { expiresInMs: 10 * 365 * 86_400_000 });
  assert.equal(parseExpires("2028-02-29", NOW), { expiresAt: Date.parse("2028-02-29T00:00:00Z") });
});

test("shareServerOptions() maps serve flags to store limits; shareServeArgs() gives them back", () => {
  const flags = { storage: "/srv/shares", maxShareFiles: "6", maxShareBytes: "1G", storeQuota: "10G", maxExpiry: "2d", defaultExpiry: "1h" };
  assert.equal(shareServerOptions(flags), {
    storage: "/srv/shares",
    shareLimits: { maxFilesPerShare: 6, maxShareBytes: 2 ** 30, maxStoreBytes: 10 * 2 ** 30, maxExpiryMs: 2 * 86_400_000, defaultExpiryMs: 3_600_000 },
  });
  assert.equal(shareServeArgs(flags), [
    "--storage", "/srv/shares", "--max-share-files", "6", "--max-share-bytes", "1G", "--store-quota", "10G", "--max-expiry", "2d", "--default-expiry", "1h",
  ]);
  assert.equal(shareServerOptions({}), { shareLimits: {} });
  refused(() => shareServerOptions({ maxShareFiles: "0" }), /--max-share-files/);
  refused(() => shareServerOptions({ maxShareFiles: "10001" }), /at most 10000 \(the protocol's limit per share\)/);
  assert.is(shareServerOptions({ maxShareFiles: "10000" }).shareLimits.maxFilesPerShare, 10000);
  // A quota no share fits in, or smaller than the largest share allowed, is refused; a quota alone caps the share size.
  refused(() => shareServerOptions({ storeQuota: "1k" }), /Invalid --store-quota '1k': at least 12\.0 KiB, what the smallest share counts for/);
  refused(() => shareServerOptions({ maxShareBytes: "10G", storeQuota: "1G" }), /^--max-share-bytes \(10737418240 bytes\) is more than --store-quota \(1\.0 GiB\) can keep in one share: at most 1073733632 bytes \(the quota less 8 KiB for the share itself\)/);
  refused(() => shareServerOptions({ maxShareBytes: "10G", storeQuota: "10G" }), /can keep in one share/);
  refused(() => shareServerOptions({ maxShareBytes: "100G" }), /more than the default --store-quota \(64\.0 GiB\) can keep in one share/);
  // A share of the quota less 8 KiB fits: one 1 byte larger would be told "the store is full".
  assert.equal(shareServerOptions({ storeQuota: "1M" }).shareLimits, { maxStoreBytes: 2 ** 20, maxShareBytes: 2 ** 20 - 8192 });
});

test("sfx share ls and get with a malformed code exit 9 (SFX_BAD_CODE) without connecting", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (line: string) => errors.push(line);
  try {
    assert.is(await main(["share", "ls", "NOT-A-CODE", "--server", "127.0.0.1:9"]), 9);
    assert.is(await main(["share", "get", "1234", "--server", "127.0.0.1:9"]), 9);
  } finally {
    console.error = original;
  }
  assert.match(errors[0], /^sfx: Invalid share code/);
});

test("sfx share put with a bad --expires or --max-downloads exits 2 before reading files", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    assert.is(await main(["share", "put", "/nonexistent", "--expires", "later", "--server", "127.0.0.1:9"]), 2);
    assert.is(await main(["share", "put", "/nonexistent", "--max-downloads", "0", "--server", "127.0.0.1:9"]), 2);
  } finally {
    console.error = original;
  }
});

test.run();
