/**
 * What interrupted transfers left to resume, as a receiver lists it when it
 * starts: kept parts with their notes, not those a live writer holds, within
 * a bounded search.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { keptTransfers } from "../../src/client/receive.ts";
import { discardKeptParts, listKeptParts, lockPathFor, openSafeWrite, partPathFor, removeStaleLock, resumeNotePathFor } from "../../src/client/safe_write.ts";
import { describeKept } from "../../src/cli/receive.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "sfx-kept-"));
  dirs.push(d);
  return d;
}
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A kept part of `rel` under `dir` holding `bytes` bytes, noted with `note`; its lock holds `lock` when given. */
function keep(dir: string, rel: string, bytes: number, note: string, lock?: string): string {
  const part = partPathFor(join(dir, rel));
  mkdirSync(join(part, ".."), { recursive: true });
  writeFileSync(part, new Uint8Array(bytes));
  writeFileSync(resumeNotePathFor(part), `${note}\n`);
  if (lock !== undefined) writeFileSync(lockPathFor(part), lock);
  return part;
}

test("keptTransfers() lists each kept part with its note: the exchange's name and size, or the part's own name for a share download", async () => {
  const dir = tmp();
  const big = keep(dir, "big.iso", 3000, `exchange 1000000 1700000000000 ${JSON.stringify("big.iso")}`);
  const raw = keep(dir, "photos/2024/a raw.cr2", 500, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  // Not kept for resuming: a part without a note beside a killed writer's lock (a small file's).
  const plain = partPathFor(join(dir, "plain.bin"));
  writeFileSync(plain, "x");
  writeFileSync(lockPathFor(plain), `${spawnSync("true").pid} 0123456789abcdef ${hostname()}\n`);
  // Nor anything: a file merely named like a part, with no note and no lock (the user's own).
  writeFileSync(partPathFor(join(dir, "diary.txt")), "dear diary");
  const { kept, truncated } = await keptTransfers(dir);
  assert.not.ok(truncated);
  assert.equal(kept, [
    { path: "big.iso", bytes: 3000, size: 1_000_000, temporary: big, resumesHere: true },
    { path: "photos/2024/a raw.cr2", bytes: 500, temporary: raw, resumesHere: true },
    { path: "plain.bin", bytes: 1, temporary: plain, resumesHere: false, leftover: true },
  ]);
});

test("a part kept by a receive into a sub-folder is named where it sits, and said not to resume here (its note names the file from that folder)", async () => {
  const dir = tmp();
  const one = keep(dir, "one/big.bin", 100, `exchange 1000 1700000000000 ${JSON.stringify("big.bin")}`);
  const two = keep(dir, "two/big.bin", 200, `exchange 1000 1700000000000 ${JSON.stringify("big.bin")}`);
  const nested = keep(dir, "d/sub/f.bin", 300, `exchange 1000 1700000000000 ${JSON.stringify("d/sub/f.bin")}`);
  const { kept } = await keptTransfers(dir);
  assert.equal(kept.map((k) => [k.path, k.temporary, k.resumesHere]), [
    ["d/sub/f.bin", nested, true],
    ["one/big.bin", one, false],
    ["two/big.bin", two, false],
  ]);
  const lines = describeKept(kept, false);
  // The headline does not say every part resumes when one is noted otherwise below.
  assert.is(lines[0], "Kept from interrupted transfers, 600 B in all (the same file sent again resumes from there, except as noted):");
  assert.match(lines[1], /^  d\/sub\/f\.bin: 300 B of 1000 B$/);
  assert.match(lines[2], /^  one\/big\.bin: 100 B of 1000 B \(kept by a receive into another folder: sent here it starts over, received there it resumes\)$/);
});

test("a part whose writer is alive is not listed; one whose writer died (kill -9) is", async () => {
  const dir = tmp();
  const live = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const dead = spawnSync("true").pid!;
    keep(dir, "busy.bin", 10, "exchange 2000000 1 \"busy.bin\"", `${live.pid} abc ${hostname()}\n`);
    const left = keep(dir, "left.bin", 20, "exchange 2000000 1 \"left.bin\"", `${dead} abc ${hostname()}\n`);
    const { parts, inUse } = await listKeptParts(dir);
    assert.equal(parts.map((p) => p.temporary), [left]);
    assert.is(inUse, 1, "the live writer's part is counted, to be said");
  } finally {
    live.kill();
  }
});

test("what a killed receiver left without a note (a small file, standard input) is listed as not resumable, and discarded with its lock; a note or a dead writer's lock with no part beside it goes too (an empty one too, once a minute old); a live writer's stays", async () => {
  const dir = tmp();
  const live = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const dead = spawnSync("true").pid!;
    const deadLock = `${dead} 0123456789abcdef ${hostname()}\n`;
    const small = partPathFor(join(dir, "small.txt"));
    writeFileSync(small, "half a file");
    writeFileSync(lockPathFor(small), deadLock);
    const writing = partPathFor(join(dir, "writing.txt"));
    writeFileSync(writing, "being written");
    writeFileSync(lockPathFor(writing), `${live.pid} abc ${hostname()}\n`);
    // Strays: a note whose part is gone, a dead writer's lock alone, and a live writer's lock alone (about to create its part).
    const noteAlone = resumeNotePathFor(partPathFor(join(dir, "gone.bin")));
    writeFileSync(noteAlone, "exchange 2000000 1 \"gone.bin\"\n");
    const lockAlone = lockPathFor(partPathFor(join(dir, "never.bin")));
    writeFileSync(lockAlone, deadLock);
    const liveAlone = lockPathFor(partPathFor(join(dir, "soon.bin")));
    writeFileSync(liveAlone, `${live.pid} abc ${hostname()}\n`);
    // A writer killed between making its lock and writing in it leaves it empty: gone once a minute old, kept while fresh.
    const emptyOld = lockPathFor(partPathFor(join(dir, "cut.bin")));
    writeFileSync(emptyOld, "");
    const minute = new Date(Date.now() - 60_000);
    utimesSync(emptyOld, minute, minute);
    const emptyFresh = lockPathFor(partPathFor(join(dir, "starting.bin")));
    writeFileSync(emptyFresh, "");
    // The user's own files merely named like a lock and a note, an hour old: not sfx's.
    const hour = new Date(Date.now() - 3_600_000);
    const todoLock = join(dir, ".todo.sfx-lock");
    const todoNote = join(dir, ".plan.sfx-resume");
    writeFileSync(todoLock, "my notes\n");
    writeFileSync(todoNote, "things to do\n");
    utimesSync(todoLock, hour, hour);
    utimesSync(todoNote, hour, hour);
    const listed = await listKeptParts(dir);
    assert.equal(listed.parts, [{ temporary: small, relativeDir: "", bytes: 11 }]);
    assert.equal(listed.strays.sort(), [lockAlone, noteAlone, emptyOld].sort());
    const { kept } = await keptTransfers(dir);
    const lines = describeKept(kept, false);
    assert.is(lines[0], "Left in part by receivers that were killed, 11 B in all (hidden; these do not resume):");
    assert.is(lines[1], "  small.txt: 11 B");
    assert.is(lines.at(-1), "To free the space: sfx receive --discard-kept (with the same --dir).");
    const { gone, failed } = await discardKeptParts(listed.parts, listed.strays);
    assert.equal(gone.map((p) => p.temporary), [small]);
    assert.equal(failed, []);
    assert.equal(readdirSync(dir).sort(), [basename(liveAlone), basename(emptyFresh), basename(lockPathFor(writing)), basename(writing), ".todo.sfx-lock", ".plan.sfx-resume"].sort());
  } finally {
    live.kill();
  }
});

test("another user's: a live writer's lock it may not read (its umask) is held, never taken for one being written and taken over; a part without a note in another user's own folder is not root's to list; locks are made readable by all", async () => {
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root to act as two users");
  // nobody's folder, in which root receives (root's files there are nobody's to discard once dead).
  const dir = tmp();
  spawnSync("chown", ["65534:65534", dir]);
  const live = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    // Root's live write, its lock private (0600) and older than the 10 s an empty lock is given.
    const part = partPathFor(join(dir, "data.txt"));
    writeFileSync(part, "being written");
    writeFileSync(lockPathFor(part), `${live.pid} 0123456789abcdef ${hostname()}\n`, { mode: 0o600 });
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockPathFor(part), old, old);
    const script = `
      import { discardKeptParts, listKeptParts } from ${JSON.stringify(new URL("../../src/client/safe_write.ts", import.meta.url).href)};
      const listed = await listKeptParts(process.argv[1]);
      const { gone } = await discardKeptParts(listed.parts, listed.strays);
      console.log(JSON.stringify({ listed: listed.parts.length, gone: gone.length }));`;
    const out = execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script, dir], { encoding: "utf8" });
    assert.equal(JSON.parse(out), { listed: 0, gone: 0 });
    assert.ok(existsSync(part) && existsSync(lockPathFor(part)), "root's live write is untouched");
    // nobody's own folder, its killed writer's part without a note: root does not list it.
    const theirs = join(dir, "nobodys");
    mkdirSync(theirs);
    const dead = spawnSync("true").pid!;
    const mine = partPathFor(join(theirs, "mine.bin"));
    writeFileSync(mine, "theirs");
    writeFileSync(lockPathFor(mine), `${dead} 0123456789abcdef ${hostname()}\n`);
    spawnSync("chown", ["-R", "65534:65534", theirs]);
    assert.equal((await listKeptParts(dir)).parts.map((p) => p.temporary), []);
  } finally {
    live.kill();
  }
  // A lock sfx makes is readable by all, whatever the umask.
  const w = tmp();
  const umask = process.umask(0o077);
  try {
    const writer = await openSafeWrite(w, "x.bin");
    assert.is(statSync(lockPathFor(writer.partPath)).mode & 0o777, 0o644);
    await writer.abort();
  } finally {
    process.umask(umask);
  }
});

test("a kept part and what a killed receiver left, listed together: the headline says some do not resume", () => {
  const lines = describeKept([
    { path: "big.iso", bytes: 2048, size: 4096, temporary: "/d/.big.iso.sfx-part", resumesHere: true },
    { path: "notes.txt", bytes: 100, temporary: "/d/.notes.txt.sfx-part", resumesHere: false, leftover: true },
  ], false);
  assert.is(lines[0], "Kept from interrupted transfers, 2.1 KiB in all (the same file sent again resumes from there, except as noted):");
  assert.is(lines[2], "  notes.txt: 100 B (left by a receiver that was killed: it does not resume)");
  assert.is(lines.at(-1), "To free the space instead: sfx receive --discard-kept (with the same --dir).");
});

test("the search skips hidden directories and links, and stops at its bounds, saying so", async () => {
  const dir = tmp();
  keep(dir, ".git/x.bin", 10, "exchange 2000000 1 \"x.bin\"");
  keep(dir, "a/b/c/deep.bin", 10, "exchange 2000000 1 \"a/b/c/deep.bin\"");
  keep(dir, "top.bin", 10, "exchange 2000000 1 \"top.bin\"");
  const elsewhere = tmp();
  keep(elsewhere, "linked.bin", 10, "exchange 2000000 1 \"linked.bin\"");
  symlinkSync(elsewhere, join(dir, "link"));
  const all = await listKeptParts(dir);
  assert.equal(all.parts.map((p) => p.relativeDir).sort(), ["", "a/b/c"]);
  assert.not.ok(all.truncated);
  const shallow = await listKeptParts(dir, { depth: 2, entries: 1000 });
  assert.equal(shallow.parts.map((p) => p.relativeDir), [""]);
  assert.ok(shallow.truncated, "a directory below the depth was not read");
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, `f${i}`), "");
  const few = await listKeptParts(dir, { depth: 8, entries: 10 });
  assert.ok(few.truncated, "entries beyond the budget were not read");
});

test("what is not a small regular file where a note or a lock should be does not hang the search nor get read: a FIFO lock counts as a fresh lock, a huge note as none", async () => {
  const dir = tmp();
  const fifoLock = keep(dir, "a.bin", 10, "exchange 2000000 1 \"a.bin\"");
  assert.is(spawnSync("mkfifo", [lockPathFor(fifoLock)]).status, 0);
  const fifoNote = partPathFor(join(dir, "b.bin"));
  writeFileSync(fifoNote, "x");
  assert.is(spawnSync("mkfifo", [resumeNotePathFor(fifoNote)]).status, 0);
  const huge = partPathFor(join(dir, "c.bin"));
  writeFileSync(huge, "x");
  assert.is(spawnSync("truncate", ["-s", "400M", resumeNotePathFor(huge)]).status, 0);
  // A FIFO for a lock counts as a lock being written while fresh, as left over once old (as
  // takeLock sees it); the others have no note.
  assert.equal((await listKeptParts(dir)).parts, []);
  const old = new Date(Date.now() - 60_000);
  spawnSync("touch", ["-h", "-d", old.toISOString(), lockPathFor(fifoLock)]);
  assert.equal((await listKeptParts(dir)).parts.map((p) => p.temporary), [fifoLock]);
});

test("describeKept() says how much of which file, that sending it again resumes, and how to free the space; names are made printable", () => {
  assert.equal(describeKept([], false), []);
  const lines = describeKept([
    { path: "big.iso", bytes: 12 * 2 ** 20, size: 4 * 2 ** 30, temporary: "/d/.big.iso.sfx-part", resumesHere: true },
    { path: "evil\u001b[2J.bin", bytes: 1024, temporary: "/d/.evil.sfx-part", resumesHere: true },
  ], true);
  assert.match(lines[0], /^Kept from interrupted transfers, 12\.0 MiB in all \(the same file sent again resumes from there\):$/);
  assert.match(lines[1], /^  big\.iso: 12\.0 MiB of 4\.0 GiB$/);
  assert.not.match(lines[2], /\u001b/);
  assert.match(lines[3], /search stopped early/);
  assert.is(lines.at(-1), "To free the space instead: sfx receive --discard-kept (with the same --dir).");
  const many = describeKept(Array.from({ length: 13 }, (_, i) => ({ path: `f${i}`, bytes: 1, temporary: `/d/.f${i}.sfx-part`, resumesHere: true })), false);
  assert.is(many.filter((l) => l.startsWith("  f")).length, 10);
  assert.ok(many.includes("  and 3 more"));
});

test("discardKeptParts() deletes each listed part and its note under its lock; one a writer took up since, or whose note changed, stays", async () => {
  const dir = tmp();
  const live = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const gone = keep(dir, "a/old.bin", 100, "exchange 1000 1 \"a/old.bin\"");
    const taken = keep(dir, "taken.bin", 200, "exchange 1000 1 \"taken.bin\"");
    const renoted = keep(dir, "renoted.bin", 300, "exchange 1000 1 \"renoted.bin\"");
    const { parts } = await listKeptParts(dir);
    assert.is(parts.length, 3);
    // Meanwhile: a live receiver locks one to resume it; another part is started over for a new version.
    writeFileSync(lockPathFor(taken), `${live.pid} abc ${hostname()}\n`);
    writeFileSync(resumeNotePathFor(renoted), "exchange 2000 2 \"renoted.bin\"\n");
    const { gone: deleted, failed } = await discardKeptParts(parts);
    assert.equal(deleted.map((p) => p.temporary), [gone]);
    assert.equal(failed, []);
    assert.not.ok(existsSync(gone) || existsSync(resumeNotePathFor(gone)) || existsSync(lockPathFor(gone)), "part, note and lock gone");
    for (const f of [taken, resumeNotePathFor(taken), lockPathFor(taken), renoted, resumeNotePathFor(renoted)]) assert.ok(existsSync(f), f);
    assert.not.ok(existsSync(lockPathFor(renoted)), "the lock taken to look at it is given back");
  } finally {
    live.kill();
  }
});

test("a stale lock is removed only if it is still the file judged stale: a lock another process made meanwhile stays", async () => {
  const dir = tmp();
  const lock = join(dir, ".x.bin.sfx-lock");
  const judge = () => ({ ...lstatSync(lock), text: readFileSync(lock, "utf8") });
  writeFileSync(lock, "1 dead-writer host\n");
  assert.ok(await removeStaleLock(lock, judge()));
  assert.not.ok(existsSync(lock));
  // Judged stale, then taken over by another process (removed, made anew: often under the inode
  // number just freed) before we act on it.
  writeFileSync(lock, "1 dead-writer host\n");
  const judged = judge();
  rmSync(lock);
  writeFileSync(lock, `${process.pid} live-writer ${hostname()}\n`);
  assert.not.ok(await removeStaleLock(lock, judged));
  assert.is(readFileSync(lock, "utf8"), `${process.pid} live-writer ${hostname()}\n`, "the live lock is back in place");
  assert.equal(readdirSync(dir), [".x.bin.sfx-lock"], "nothing left aside");
});

test("discardKeptParts(): a part that cannot be deleted is reported and does not stop the others", async () => {
  const dir = tmp();
  const stuck = keep(dir, "stuck.bin", 100, "exchange 1000 1 \"stuck.bin\"");
  const other = keep(dir, "other.bin", 200, "exchange 1000 1 \"other.bin\"");
  // Immutable, so that even root cannot delete it (ext4 and most local file systems).
  if (spawnSync("chattr", ["+i", stuck]).status !== 0) {
    console.warn("SKIPPED: chattr +i is not supported here, so no part can be made undeletable");
    return;
  }
  try {
    const { parts } = await listKeptParts(dir);
    const { gone, failed } = await discardKeptParts(parts);
    assert.equal(gone.map((p) => p.temporary), [other]);
    assert.equal(failed.map((f) => [f.part.temporary, f.error.code]), [[stuck, "SFX_IO"]]);
    assert.match(failed[0].error.message, /permission denied|not permitted/);
    assert.ok(existsSync(stuck) && existsSync(resumeNotePathFor(stuck)), "the stuck part keeps its note");
    assert.not.ok(existsSync(lockPathFor(stuck)), "and its lock is given back");
  } finally {
    spawnSync("chattr", ["-i", stuck]);
  }
});

test.run();
