import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { ioError, isInside, localRelativePath, lockPathFor, newSafeWriteCache, numbered, openSafeWrite, partPathFor, pathInTheWay, prepareDestination, prepareDirectory, resumeNotePathFor, sanitizeRelativePath } from "../../src/client/safe_write.ts";
import { isSfxError } from "../../src/errors.ts";
import { withTmpfs } from "../_tmpfs.ts";
import { slowReads } from "../_slow_reads.ts";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "sfx-safe-"));
  dirs.push(d);
  return d;
}
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const good: Array<[string, string]> = [
  ["a.txt", "a.txt"],
  ["dir/sub/file.bin", "dir/sub/file.bin"],
  ["été/naïve ☃.txt", "été/naïve ☃.txt"],
  [".hidden", ".hidden"],
  // Ordinary on Linux and macOS; a Windows receiver renames them (localRelativePath).
  ["aux.c", "aux.c"],
  ["con", "con"],
  ["backup 2024-01-01T12:30.tar", "backup 2024-01-01T12:30.tar"],
  ["q?.txt", "q?.txt"],
  ["trail.", "trail."],
  ["trail ", "trail "],
  ["c:x", "c:x"],
  ["\u200fIMG_0001.jpg", "\u200fIMG_0001.jpg"],
  ["note\u200b.txt", "note\u200b.txt"],
];
for (const [input, out] of good) {
  test(`sanitizeRelativePath() keeps ${JSON.stringify(input)}`, () => assert.is(sanitizeRelativePath(input), out));
}
const bad = [
  "", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "C:\\x", "a\u0000b", "new\nline", "tab\there",
  "esc\u001b[31m", "del\u007f", "a\\b", "bidi\u202eexe.txt", "x".repeat(256), "a/.b.sfx-part", "x.sfx-lock",
  // Both are written to disk as x\ufffd.bin: two names, one file.
  "x\ud800.bin", "x\udc00.bin",
  // On a case-insensitive file system, x's temporary file.
  ".x.SFX-PART",
  // A stale lock moved aside, left by a crash.
  "d/.sfx-stale-0123456789abcdef-1",
];
for (const input of bad) {
  test(`sanitizeRelativePath() refuses ${JSON.stringify(input.slice(0, 30))} with SFX_PROTOCOL`, () => {
    try {
      sanitizeRelativePath(input);
      assert.unreachable();
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
    }
  });
}

test("a refused name is shown with its control characters escaped (bell\\u0007.txt), as left-out names are, not as U+FFFD; bidi controls made printable", () => {
  const said = (name: string) => {
    try {
      sanitizeRelativePath(name);
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };
  assert.is(said("bell\u0007.txt"), 'Refusing file name "bell\\u0007.txt": it contains control characters');
  assert.not.match(said("esc\u001b[31m"), /\u001b/);
  assert.match(said("esc\u001b[31m"), /"esc\\u001b\[31m"/);
  assert.not.match(said("bidi\u202eexe.txt"), /\u202e/);
});

test("localRelativePath() renames on Windows only what Windows cannot store", () => {
  const cases: Array<[string, string]> = [
    ["aux.c", "_aux.c"],
    ["dir/CON", "dir/_CON"],
    ["com1.txt", "_com1.txt"],
    ["backup 12:30.tar", "backup 12_30.tar"],
    ['a<b>c"d|e?f*g', "a_b_c_d_e_f_g"],
    ["trail.", "trail_"],
    ["trail ", "trail_"],
    ["console.log", "console.log"],
    ["plain/é.txt", "plain/é.txt"],
  ];
  for (const [from, to] of cases) {
    assert.is(localRelativePath(from, "win32"), to, from);
    assert.is(localRelativePath(from, "linux"), from, from);
  }
});

test("pathInTheWay() names the first directory an offer needs that cannot be one here, and what is there; a directory, or a link to one inside the folder, is not in the way", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-in-the-way-"));
  const outside = mkdtempSync(join(tmpdir(), "sfx-outside-"));
  try {
    mkdirSync(join(dir, "photos/2026"), { recursive: true });
    writeFileSync(join(dir, "photos/2026/march"), "a file");
    writeFileSync(join(dir, "notes"), "a file");
    symlinkSync(join(dir, "photos"), join(dir, "link"));
    symlinkSync(join(dir, "notes"), join(dir, "to-file"));
    symlinkSync(join(dir, "nowhere"), join(dir, "broken"));
    symlinkSync(outside, join(dir, "out"));
    assert.is(await pathInTheWay(dir, ["a.txt", "notes", "new/dir/x", "photos/2026/x.jpg", "link/y", "to-file", "out"]), undefined, "files replace nothing (they are numbered), and a link to a directory inside is one");
    assert.equal(await pathInTheWay(dir, ["ok/a", "photos/2026/march/01.jpg"]), { path: "photos/2026/march", what: "a file" });
    assert.equal(await pathInTheWay(dir, ["notes/today.md"]), { path: "notes", what: "a file" });
    assert.equal(await pathInTheWay(dir, ["to-file/x"]), { path: "to-file", what: "a symbolic link to a file" });
    assert.equal(await pathInTheWay(dir, ["broken/x"]), { path: "broken", what: "a broken symbolic link" });
    assert.equal(await pathInTheWay(dir, ["out/x"]), { path: "out", what: "a symbolic link that leads outside the folder" });
    assert.is(await pathInTheWay(join(dir, "link"), ["2026/x"]), undefined, "the folder itself given through a link");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});

test("isInside() takes a path under the root, or the root, and nothing else, also when the root is /", () => {
  assert.ok(isInside("/srv/in", "/srv/in"));
  assert.ok(isInside("/srv/in", "/srv/in/a/b"));
  assert.not.ok(isInside("/srv/in", "/srv/inbox"));
  assert.not.ok(isInside("/srv/in", "/srv"));
  assert.ok(isInside("/", "/usr/bin"));
  assert.ok(isInside("/", "/"));
});

test("numbered() puts the counter before the extension", () => {
  assert.is(numbered("/d/report.pdf", 1), "/d/report (1).pdf");
  assert.is(numbered("/d/README", 2), "/d/README (2)");
  assert.is(numbered("/d/.bashrc", 1), "/d/.bashrc (1)");
  assert.is(numbered("/d/src.tar.gz", 1), "/d/src (1).tar.gz");
  assert.is(numbered("/d/src.TAR.ZST", 3), "/d/src (3).TAR.ZST");
  assert.is(numbered("/d/.tar.gz", 1), "/d/.tar (1).gz");
});

test("a verified write lands under its final name, and no temporary file remains", async () => {
  const dir = tmp();
  const data = new TextEncoder().encode("hello, world\n");
  const w = await openSafeWrite(dir, "sub/dir/hello.txt", { size: data.length });
  assert.is(w.partPath, partPathFor(join(dir, "sub/dir/hello.txt")));
  await w.write(data.subarray(0, 5));
  await w.write(data.subarray(5));
  const r = await w.finish(sha(data));
  assert.is(r.path, join(dir, "sub/dir/hello.txt"));
  assert.is(r.relativePath, "sub/dir/hello.txt");
  assert.is(r.sha256, sha(data));
  assert.equal(readFileSync(r.path), Buffer.from(data));
  assert.equal(readdirSync(join(dir, "sub/dir")), ["hello.txt"]);
});

test("write() with release frees each chunk once it is on disk; without, the chunk is left alone", async () => {
  const dir = tmp();
  const w = await openSafeWrite(dir, "r.bin");
  const owned = [new Uint8Array(70_000).fill(1), new Uint8Array(70_000).fill(2)];
  const kept = new Uint8Array(1000).fill(3);
  // Overlapping calls: the three go out in one writev().
  const writes = [w.write(owned[0], { release: true }), w.write(kept), w.write(owned[1], { release: true })];
  await Promise.all(writes);
  assert.equal(owned.map((c) => c.byteLength), [0, 0], "released chunks read empty");
  assert.ok(owned.every((c) => c.buffer.detached));
  assert.is(kept.byteLength, 1000);
  const r = await w.finish(undefined, 141_000);
  const want = Buffer.concat([Buffer.alloc(70_000, 1), Buffer.alloc(1000, 3), Buffer.alloc(70_000, 2)]);
  assert.equal(readFileSync(r.path), want);
  assert.is(r.sha256, sha(want));
});

test("writes that overlap are applied in call order", async () => {
  const dir = tmp();
  const w = await openSafeWrite(dir, "o.bin");
  const parts = Array.from({ length: 50 }, (_, i) => new Uint8Array(1000).fill(i));
  await Promise.all(parts.map((p) => w.write(p)));
  const all = Buffer.concat(parts);
  const r = await w.finish(sha(all), all.length);
  assert.equal(readFileSync(r.path), all);
});

test("a hash mismatch fails with SFX_INTEGRITY and keeps nothing", async () => {
  const dir = tmp();
  const w = await openSafeWrite(dir, "x.txt", { size: 3 });
  await w.write(new TextEncoder().encode("abc"));
  try {
    await w.finish(sha("abd"));
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  }
  assert.equal(readdirSync(dir), []);
});

test("a short file fails with SFX_INTEGRITY and keeps nothing", async () => {
  const dir = tmp();
  const w = await openSafeWrite(dir, "x.txt", { size: 10 });
  await w.write(new TextEncoder().encode("abc"));
  try {
    await w.finish(sha("abc"));
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  }
  assert.equal(readdirSync(dir), []);
});

test("an existing file is never replaced silently: name (1).ext, name (2).ext", async () => {
  const dir = tmp();
  writeFileSync(join(dir, "a.txt"), "old");
  for (const content of ["new1", "new2"]) {
    const w = await openSafeWrite(dir, "a.txt");
    await w.write(new TextEncoder().encode(content));
    await w.finish();
  }
  assert.is(readFileSync(join(dir, "a.txt"), "utf8"), "old");
  assert.is(readFileSync(join(dir, "a (1).txt"), "utf8"), "new1");
  assert.is(readFileSync(join(dir, "a (2).txt"), "utf8"), "new2");
});

test("the same bytes already under the final name are kept as they are: no 'name (1)' copy", async () => {
  const dir = tmp();
  writeFileSync(join(dir, "same.txt"), "same bytes");
  const w = await openSafeWrite(dir, "same.txt");
  await w.write(new TextEncoder().encode("same bytes"));
  const r = await w.finish(sha("same bytes"));
  assert.is(r.path, join(dir, "same.txt"));
  assert.is(r.unchanged, true);
  assert.equal(readdirSync(dir), ["same.txt"]);
  // Same size, other bytes: a second file, as before.
  const v = await openSafeWrite(dir, "same.txt");
  await v.write(new TextEncoder().encode("SAME BYTES"));
  const r2 = await v.finish(sha("SAME BYTES"));
  assert.is(r2.path, join(dir, "same (1).txt"));
  assert.is(r2.unchanged, undefined);
});

test("overwrite replaces an existing file", async () => {
  const dir = tmp();
  writeFileSync(join(dir, "a.txt"), "old");
  const w = await openSafeWrite(dir, "a.txt", { overwrite: true });
  await w.write(new TextEncoder().encode("new"));
  const r = await w.finish();
  assert.is(r.path, join(dir, "a.txt"));
  assert.is(readFileSync(join(dir, "a.txt"), "utf8"), "new");
});

test("overwrite never throws a finished file away for a directory under its name: it is saved as 'name (1).ext' beside it, as without overwrite", async () => {
  const dir = tmp();
  for (const full of [false, true]) {
    const name = full ? "full.bin" : "empty.bin";
    mkdirSync(join(dir, name));
    if (full) writeFileSync(join(dir, name, "inside"), "kept");
    const w = await openSafeWrite(dir, name, { overwrite: true });
    await w.write(new TextEncoder().encode("bytes"));
    const r = await w.finish(sha("bytes"));
    assert.is(r.path, join(dir, name.replace(".bin", " (1).bin")));
    assert.is(readFileSync(r.path, "utf8"), "bytes");
    assert.ok(statSync(join(dir, name)).isDirectory(), "the directory stays");
  }
  assert.is(readFileSync(join(dir, "full.bin", "inside"), "utf8"), "kept");
});

test("abort removes the temporary file; abort with keepPartial leaves it for a resume", async () => {
  const dir = tmp();
  const w = await openSafeWrite(dir, "a.bin");
  await w.write(new Uint8Array(10));
  await w.abort();
  assert.equal(readdirSync(dir), []);
  const w2 = await openSafeWrite(dir, "a.bin", { resume: true });
  await w2.write(new Uint8Array(10));
  await w2.abort({ keepPartial: true });
  assert.equal(readdirSync(dir), [".a.bin.sfx-part"]);
});

test("resume reopens the temporary file, reports its length, and the hash covers the bytes already there", async () => {
  const dir = tmp();
  const all = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  const first = await openSafeWrite(dir, "big.bin", { size: all.length, resume: true });
  assert.is(first.offset, 0);
  await first.write(all.subarray(0, 123_456));
  await first.abort({ keepPartial: true });
  const second = await openSafeWrite(dir, "big.bin", { size: all.length, resume: true });
  assert.is(second.offset, 123_456);
  await second.write(all.subarray(second.offset));
  const r = await second.finish(sha(all));
  assert.equal(readFileSync(r.path), Buffer.from(all));
});

test("a resumed write hashes its kept bytes in the background: abort stops that at once, keeps the bytes and says how many; a part gone by then counts 0", async () => {
  const dir = tmp();
  const kept = new Uint8Array(12 * 1024 * 1024).fill(3);
  const first = await openSafeWrite(dir, "big.bin", { size: 20 * 1024 * 1024, resume: true });
  await first.write(kept);
  assert.is(await first.abort({ keepPartial: true }), kept.length);
  const restore = await slowReads(200); // 12 reads of 1 MiB: 2.4 s to hash it all
  try {
    const second = await openSafeWrite(dir, "big.bin", { size: 20 * 1024 * 1024, resume: true });
    assert.is(second.offset, kept.length);
    const t0 = Date.now();
    assert.is(await second.abort({ keepPartial: true }), kept.length);
    assert.ok(Date.now() - t0 < 1000, `abort took ${Date.now() - t0} ms`);
  } finally {
    restore();
  }
  const third = await openSafeWrite(dir, "big.bin", { size: 20 * 1024 * 1024, resume: true });
  rmSync(third.partPath);
  assert.is(await third.abort({ keepPartial: true }), 0);
});

test("resume starts over when the temporary file is longer than the expected size", async () => {
  const dir = tmp();
  writeFileSync(join(dir, ".f.sfx-part"), "much too long");
  const w = await openSafeWrite(dir, "f", { size: 3, resume: true });
  assert.is(w.offset, 0);
  await w.write(new TextEncoder().encode("abc"));
  await w.finish(sha("abc"));
  assert.is(readFileSync(join(dir, "f"), "utf8"), "abc");
});

test("two writes of the same name at once each get their own temporary file: both files arrive whole", async () => {
  const dir = tmp();
  const a = new Uint8Array(200_000).fill(0xaa);
  const b = new Uint8Array(300_000).fill(0xbb);
  const wa = await openSafeWrite(dir, "same.bin", { size: a.length });
  const wb = await openSafeWrite(dir, "same.bin", { size: b.length });
  assert.is.not(wa.partPath, wb.partPath);
  for (let i = 0; i < 10; i++) {
    await Promise.all([wa.write(a.subarray(i * 20_000, (i + 1) * 20_000)), wb.write(b.subarray(i * 30_000, (i + 1) * 30_000))]);
  }
  const [ra, rb] = await Promise.all([wa.finish(sha(a)), wb.finish(sha(b))]);
  assert.is.not(ra.path, rb.path);
  assert.ok(readFileSync(ra.path).equals(Buffer.from(a)), "first file's bytes");
  assert.ok(readFileSync(rb.path).equals(Buffer.from(b)), "second file's bytes");
  assert.equal(readdirSync(dir).sort(), ["same (1).bin", "same.bin"]);
});

test("a file merely named like a temporary file, with no lock sfx left beside it and no note, is the user's: a write, and a resumed download, of that name pass it by and it keeps its bytes; beside a killed writer's lock it is sfx's, and replaced", async () => {
  const dir = tmp();
  const ours = new TextEncoder().encode("ours");
  for (const [name, opts] of [["notes.txt", {}], ["big.bin", { resume: true, resumeKey: sha(ours) }]] as const) {
    const final = join(dir, name);
    writeFileSync(partPathFor(final), `my ${name}`);
    const w = await openSafeWrite(dir, name, { ...opts, size: ours.length });
    assert.is(w.partPath, partPathFor(final, 2), name);
    assert.is(w.offset, 0, name);
    await w.write(ours);
    await w.finish(sha(ours));
    assert.is(readFileSync(final, "utf8"), "ours", name);
    assert.is(readFileSync(partPathFor(final), "utf8"), `my ${name}`, `${name}: the user's file keeps its bytes`);
  }
  // A receiver killed mid-file left its part beside a lock naming its process, now gone (no such pid).
  const killed = join(dir, "killed.bin");
  writeFileSync(lockPathFor(partPathFor(killed)), `${2 ** 22 + 8} 0123456789abcdef ${hostname()}\n`);
  writeFileSync(partPathFor(killed), "half");
  const k = await openSafeWrite(dir, "killed.bin", { size: ours.length });
  assert.is(k.partPath, partPathFor(killed));
  await k.write(ours);
  await k.finish(sha(ours));
  assert.equal(readdirSync(dir).filter((n) => n.includes("killed")), ["killed.bin"]);
});

test("a user's file merely named like a temporary file survives writes of that name racing each other (a lock seen held, then let go, is not a killed writer's)", async () => {
  const dir = tmp();
  const final = join(dir, "a");
  const ours = new TextEncoder().encode("ours");
  for (let round = 0; round < 40; round++) {
    writeFileSync(partPathFor(final), "USER DATA");
    const writes = [0, 1, 2, 3].map(async (k) => {
      // Staggered by a few event-loop turns (each a look at the disk), so that one write reads the
      // lock while another holds it, and takes it once that one has let go.
      for (let i = 0; i < k * (round % 5); i++) await new Promise((r) => setImmediate(r));
      const w = await openSafeWrite(dir, "a", { size: ours.length });
      await w.abort();
    });
    await Promise.all(writes);
    assert.is(readFileSync(partPathFor(final), "utf8"), "USER DATA", `round ${round}`);
  }
});

test("a folder made for a write and removed before its file is opened (another receive into the folder failed, and removed the empty folders it had made) is made again", async () => {
  const dir = tmp();
  const cache = newSafeWriteCache();
  await prepareDestination(dir, "sub/deep/a.txt", cache);
  rmSync(join(dir, "sub"), { recursive: true });
  const ours = new TextEncoder().encode("ours");
  const w = await openSafeWrite(dir, "sub/deep/a.txt", { cache, size: ours.length });
  await w.write(ours);
  await w.finish(sha(ours));
  assert.is(readFileSync(join(dir, "sub", "deep", "a.txt"), "utf8"), "ours");
});

test("a temporary file locked by another running process is left alone; a dead process's lock is taken over", async () => {
  const dir = tmp();
  const final = join(dir, "x.bin");
  const other = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    writeFileSync(lockPathFor(partPathFor(final)), `${other.pid}\n`);
    writeFileSync(partPathFor(final), "theirs");
    const w = await openSafeWrite(dir, "x.bin");
    assert.is(w.partPath, partPathFor(final, 2));
    await w.write(new TextEncoder().encode("ours"));
    await w.finish(sha("ours"));
    assert.is(readFileSync(partPathFor(final), "utf8"), "theirs", "the other writer's file is untouched");
    // Resuming needs that very file: a clear error while its writer runs.
    try {
      await openSafeWrite(dir, "y.bin", { resume: true }).then((y) => y.abort());
      writeFileSync(lockPathFor(partPathFor(join(dir, "y.bin"))), `${other.pid}\n`);
      await openSafeWrite(dir, "y.bin", { resume: true });
      assert.unreachable();
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_IO"), String(err));
      assert.match((err as Error).message, /another sfx process is writing it/);
    }
  } finally {
    other.kill("SIGKILL");
    await new Promise((r) => other.once("exit", r));
  }
  // The writer is gone: its partial download is continued.
  const w = await openSafeWrite(dir, "x.bin", { resume: true, overwrite: true });
  assert.is(w.partPath, partPathFor(final));
  assert.is(w.offset, "theirs".length);
  await w.write(new TextEncoder().encode("!"));
  await w.finish(sha("theirs!"));
  assert.is(readFileSync(final, "utf8"), "theirs!");
});

test("a directory linked inside the target: writes through both paths get their own temporary files, and both files arrive whole", async () => {
  const dir = tmp();
  mkdirSync(join(dir, "real"));
  symlinkSync("real", join(dir, "alias"));
  const a = new Uint8Array(100_000).fill(0xaa);
  const b = new Uint8Array(60_000).fill(0xbb);
  const wa = await openSafeWrite(dir, "real/x", { size: a.length });
  const wb = await openSafeWrite(dir, "alias/x", { size: b.length });
  await wa.write(a.subarray(0, 50_000));
  await wb.write(b);
  await wa.write(a.subarray(50_000));
  const [ra, rb] = await Promise.all([wa.finish(sha(a)), wb.finish(sha(b))]);
  assert.equal(readdirSync(join(dir, "real")).sort(), ["x", "x (1)"]);
  assert.is(sha(readFileSync(ra.path)), sha(a), "first file's bytes");
  assert.is(sha(readFileSync(rb.path)), sha(b), "second file's bytes");
});

test("a lock from another host is left alone until untouched for 10 minutes; an empty lock is left alone while fresh and taken over once old", async () => {
  const dir = tmp();
  const final = join(dir, "h.bin");
  writeFileSync(lockPathFor(partPathFor(final)), `${process.pid} 0123456789abcdef another-host\n`);
  const w = await openSafeWrite(dir, "h.bin");
  assert.is(w.partPath, partPathFor(final, 2), "another host's lock with our pid is not ours to take");
  await w.abort();
  // A running writer touches its lock every minute: one untouched for 11 minutes was left behind
  // (a container gone, a host renamed), and is taken over.
  const stale = new Date(Date.now() - 11 * 60_000);
  utimesSync(lockPathFor(partPathFor(final)), stale, stale);
  const w0 = await openSafeWrite(dir, "h.bin");
  assert.is(w0.partPath, partPathFor(final));
  await w0.abort();
  const e = join(dir, "e.bin");
  writeFileSync(lockPathFor(partPathFor(e)), "");
  const w1 = await openSafeWrite(dir, "e.bin");
  assert.is(w1.partPath, partPathFor(e, 2), "an empty lock is one being written");
  await w1.abort();
  const old = new Date(Date.now() - 60_000);
  utimesSync(lockPathFor(partPathFor(e)), old, old);
  const w2 = await openSafeWrite(dir, "e.bin");
  assert.is(w2.partPath, partPathFor(e), "an empty lock a minute old is left over");
  await w2.abort();
});

test("what is not a lock file where a lock should be (a link, a FIFO, something large) counts as a lock being written: left alone while fresh, taken over once old, the link itself removed, not its target", async () => {
  const dir = tmp();
  const target = join(dir, "elsewhere.txt");
  writeFileSync(target, "not ours to remove");
  const cases: Array<[string, (lock: string) => void]> = [
    ["link.bin", (lock) => symlinkSync(target, lock)],
    ["fifo.bin", (lock) => assert.is(spawnSync("mkfifo", [lock]).status, 0)],
    ["large.bin", (lock) => writeFileSync(lock, "x".repeat(4096))],
  ];
  for (const [name, make] of cases) {
    const final = join(dir, name);
    const lock = lockPathFor(partPathFor(final));
    make(lock);
    writeFileSync(partPathFor(final), "kept");
    const fresh = await openSafeWrite(dir, name);
    assert.is(fresh.partPath, partPathFor(final, 2), `${name}: a fresh one is being written`);
    await fresh.abort();
    const old = new Date(Date.now() - 60_000);
    spawnSync("touch", ["-h", "-d", old.toISOString(), lock]);
    const w = await openSafeWrite(dir, name, { resume: true });
    assert.is(w.partPath, partPathFor(final), `${name}: an old one is left over`);
    assert.is(w.offset, "kept".length, `${name}: its part is resumed`);
    await w.abort();
  }
  assert.is(readFileSync(target, "utf8"), "not ours to remove");
});

test("out of inodes, not of space, is said so even for a file whose directories could not be made (nothing on its path exists to ask)", async () => {
  const mnt = tmp();
  await withTmpfs(mnt, "1m", async () => {
    let made = 0;
    for (; made < 64; made++) {
      try {
        writeFileSync(join(mnt, `f${made}`), "");
      } catch {
        break; // no inode left
      }
    }
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, mkdir"), { code: "ENOSPC" });
    for (const path of [join(mnt, "f0"), join(mnt, "new.txt"), join(mnt, "a", "b", "c", "deep.txt")]) {
      assert.match(ioError(enospc, "create", path).message, /the file system is out of inodes: it has space left, but no room for another file \(ENOSPC\)$/, path);
    }
  }, { inodes: 8 });
});

test("a disk too full to write a lock leaves no lock behind (tmpfs of 64 KiB)", async () => {
  const mnt = tmp();
  await withTmpfs(mnt, "64k", async () => {
    try {
      writeFileSync(join(mnt, "filler"), new Uint8Array(1 << 20));
    } catch {
      // filled up
    }
    try {
      await openSafeWrite(mnt, "x.bin");
      assert.unreachable("opened a write on a full disk");
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_IO"), String(err));
      assert.match((err as Error).message, /disk is full/);
    }
    assert.equal(readdirSync(mnt).filter((n) => n !== "filler"), []);
  });
});

test("a name of 255 bytes that already exists gets a numbered name that still fits, cut at a character boundary", async () => {
  const dir = tmp();
  for (const name of ["n".repeat(251) + ".txt", "😀".repeat(62) + ".bin", "e".repeat(255)]) {
    writeFileSync(join(dir, name), "old");
    const w = await openSafeWrite(dir, name);
    await w.write(new TextEncoder().encode("new"));
    const r = await w.finish(sha("new"));
    assert.ok(Buffer.byteLength(basename(r.path)) <= 255, basename(r.path));
    assert.match(basename(r.path), / \(1\)(\.txt|\.bin)?$/);
    assert.not.match(basename(r.path), /\ufffd/);
    assert.is(readFileSync(r.path, "utf8"), "new");
    assert.is(readFileSync(join(dir, name), "utf8"), "old");
  }
});

test("a temporary file deleted while written: the finish says so (not that a directory was replaced), and the abort after it leaves no note behind", async () => {
  const dir = tmp();
  const w = await openSafeWrite(dir, "sub/big.bin", { resume: true, resumeKey: "exchange 10 1 \"sub/big.bin\"" });
  await w.write(new TextEncoder().encode("some"));
  assert.ok(existsSync(resumeNotePathFor(w.partPath)));
  rmSync(w.partPath);
  try {
    await w.finish(sha("some"));
    assert.unreachable("finished without its file");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
    assert.match((err as Error).message, /^Refusing sub\/big\.bin: its temporary file .*\.big\.bin\.sfx-part was deleted while it was being written$/);
  }
  await w.abort();
  assert.equal(readdirSync(join(dir, "sub")), [], "no note, no lock");
});

test("a name of 255 bytes still has a temporary file (cut, with a hash) and arrives", async () => {
  const dir = tmp();
  // 244 and 245 bytes: the part's name fits with its suffix, but its note's (two bytes longer) would not.
  for (const name of ["y".repeat(255), "é".repeat(127) + "z", "v".repeat(244), "w".repeat(245)]) {
    const w = await openSafeWrite(dir, name, { resume: true, resumeKey: "k" });
    assert.ok(Buffer.byteLength(basename(w.partPath)) <= 255, basename(w.partPath));
    assert.ok(Buffer.byteLength(basename(lockPathFor(w.partPath))) <= 255);
    assert.ok(Buffer.byteLength(basename(resumeNotePathFor(w.partPath))) <= 255);
    assert.not.match(basename(w.partPath), /\ufffd/);
    await w.write(new TextEncoder().encode("long"));
    const r = await w.finish(sha("long"));
    assert.is(readFileSync(r.path, "utf8"), "long");
  }
  assert.is(partPathFor(join(dir, "y".repeat(255))) === partPathFor(join(dir, "y".repeat(254) + "x")), false, "different names, different temporary files");
  assert.equal(readdirSync(dir).length, 4);
});

test("a long name whose writer was killed: its stale lock is taken over (moved aside under a short name of its own); names up to 243 bytes keep their uncut parts, as earlier versions wrote them", async () => {
  const dir = tmp();
  const dead = spawnSync("true").pid!;
  for (const name of ["a".repeat(223), "b".repeat(243)]) assert.is(partPathFor(join(dir, name)), join(dir, `.${name}.sfx-part`));
  for (const name of ["a".repeat(223), "b".repeat(243), "c".repeat(250)]) {
    const lock = lockPathFor(partPathFor(join(dir, name)));
    writeFileSync(lock, `${dead} 0123456789abcdef ${hostname()}\n`);
    const w = await openSafeWrite(dir, name);
    await w.write(new TextEncoder().encode("x"));
    await w.finish(sha("x"));
  }
  assert.equal(readdirSync(dir).sort(), ["a".repeat(223), "b".repeat(243), "c".repeat(250)]);
});

test("a directory that is a symbolic link to outside the target is refused", async () => {
  const dir = tmp();
  const outside = tmp();
  symlinkSync(outside, join(dir, "escape"));
  // Nothing is created outside either, not even the directories on the way.
  for (const path of ["escape/x.txt", "escape/sub/deeper/x.txt"]) {
    try {
      await openSafeWrite(dir, path);
      assert.unreachable();
    } catch (err) {
      // The receiver's own file system, not the sender, is the problem: SFX_IO.
      assert.ok(isSfxError(err, "SFX_IO"), String(err));
      assert.match((err as Error).message, /symbolic link .* leads outside/);
    }
  }
  assert.equal(readdirSync(outside), []);
});

test("a path through an existing file fails with SFX_IO", async () => {
  const dir = tmp();
  writeFileSync(join(dir, "file"), "x");
  try {
    await openSafeWrite(dir, "file/x.txt");
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
  }
});

test("ioError() names the file and says the disk is full for ENOSPC", () => {
  const e = ioError(Object.assign(new Error("nospc"), { code: "ENOSPC" }), "write", "/x/y");
  assert.is(e.code, "SFX_IO");
  assert.match(e.message, /Cannot write \/x\/y: the disk is full \(ENOSPC\)/);
  // Node's own text names the code and the path again: said once.
  const other = ioError(Object.assign(new Error("EMFILE: too many open files, open '/x/y'"), { code: "EMFILE" }), "read", "/x/y");
  assert.is(other.message, "Cannot read /x/y: too many open files (EMFILE)");
  const missing = ioError(Object.assign(new Error("ENOENT: no such file or directory, stat '/x/y'"), { code: "ENOENT" }), "read", "/x/y");
  assert.is(missing.message, "Cannot read /x/y: no such file or directory (ENOENT)");
});

test("a full disk fails with SFX_IO 'disk is full' and removes the temporary file (tmpfs of 256 KiB)", async (ctx) => {
  const mnt = tmp();
  await withTmpfs(mnt, "256k", async () => {
    mkdirSync(join(mnt, "d"));
    const w = await openSafeWrite(join(mnt, "d"), "big.bin");
    let failure: unknown;
    try {
      for (let i = 0; i < 64 && !failure; i++) await w.write(new Uint8Array(64 * 1024)).catch((e) => (failure = e));
      if (!failure) await w.finish();
    } catch (err) {
      failure = err;
    }
    await w.abort(); // idempotent: the failed write already removed the file
    assert.ok(isSfxError(failure, "SFX_IO"), String(failure));
    assert.match(String((failure as Error).message), /disk is full/);
    assert.equal(readdirSync(join(mnt, "d")), []);
  });
  void ctx;
});

test("prepareDirectory() refuses a directory it cannot write into at once (a read-only mount), before any offer", async () => {
  const d = mkdtempSync(join(tmpdir(), "sfx-ro-"));
  try {
    await withTmpfs(d, "64k", async () => {
      try {
        await prepareDirectory(d);
        assert.unreachable("a read-only directory was accepted");
      } catch (err) {
        assert.ok(isSfxError(err, "SFX_IO"), String(err));
        assert.match((err as Error).message, /Cannot write into .*: the file system is read-only/);
      }
    }, { readOnly: true });
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("a note that appeared beside a write's temporary file while it was written goes with it; on a directory that keeps its entries (chattr +a), the placed file is kept once, its temporary name left", async () => {
  const d = tmp();
  const data = new TextEncoder().encode("hello\n");
  const w = await openSafeWrite(d, "a.txt", { size: data.length });
  writeFileSync(resumeNotePathFor(w.partPath), "sfx-share:ABCD-EFGH/a.txt\n"); // another download's, say
  await w.write(data.slice());
  await w.finish(sha(data));
  assert.equal(readdirSync(d).sort(), ["a.txt"]);
  // Append-only: links may be made, entries not removed.
  if (spawnSync("chattr", ["+a", d]).status !== 0) return console.log("  (the rest skipped: chattr +a not possible here)");
  try {
    const w2 = await openSafeWrite(d, "b.txt", { size: data.length });
    await w2.write(data.slice());
    const { path } = await w2.finish(sha(data));
    assert.is(path, join(d, "b.txt"));
    assert.equal(readdirSync(d).filter((n) => n.startsWith("b")), ["b.txt"], "one copy, not one under every free name");
    assert.ok(existsSync(w2.partPath), "its temporary name could not go");
  } finally {
    spawnSync("chattr", ["-a", d]);
  }
});

test("an empty part and an empty note beside a killed sfx's lock (killed between making the note and filling it) are taken over, not passed by for good", async () => {
  const d = tmp();
  const dead = spawnSync("true").pid!;
  const part = partPathFor(join(d, "a.txt"));
  writeFileSync(lockPathFor(part), `${dead} 0123456789abcdef ${hostname()}\n`);
  writeFileSync(part, "");
  writeFileSync(resumeNotePathFor(part), "");
  const data = new Uint8Array(2 * 1024 * 1024).fill(7);
  const w = await openSafeWrite(d, "a.txt", { size: data.length, resume: true, resumeKey: "key-1" });
  assert.is(w.partPath, part, "the name taken over");
  assert.is(w.offset, 0);
  await w.write(data.slice());
  await w.finish(sha(data));
  assert.equal(readdirSync(d), ["a.txt"]);
});

test.run();
