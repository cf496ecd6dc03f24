/**
 * openSafeWrite() in a directory someone else can write into (a shared or
 * group-writable folder): what they plant at our temporary names, or a
 * directory they swap for a symbolic link while files arrive, must not make
 * us write, place or remove anything outside the target.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { hostname } from "node:os";
import { join } from "node:path";
import { listKeptParts, newSafeWriteCache, openSafeWrite, partPathFor, prepareDestination, resumeNotePathFor } from "../../src/client/safe_write.ts";
import { isSfxError } from "../../src/errors.ts";
import { tempDirs } from "../_temp.ts";

const sha = (b: Uint8Array | string) => createHash("sha256").update(b).digest("hex");
const bytes = (s: string) => new TextEncoder().encode(s);
const tmp = tempDirs(test, "sfx-planted-");

/** A target directory and, beside it, a file outside it that must keep its bytes. */
function setup(): { dir: string; outsideFile: string; outsideDir: string } {
  const base = tmp();
  const dir = join(base, "in");
  const outsideDir = join(base, "outside");
  mkdirSync(dir);
  mkdirSync(outsideDir);
  const outsideFile = join(base, "precious.txt");
  writeFileSync(outsideFile, "precious data outside the target\n");
  return { dir, outsideFile, outsideDir };
}

async function refused(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
    assert.unreachable("not refused");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
    assert.match((err as Error).message, pattern);
  }
}

test("a hard link to a file outside, planted at the temporary name, is never written through: that file keeps its bytes and the write starts over, under the next name (fresh: without a note or a lock it is not ours), or under that name, the link removed (resumed, resumed with a note naming our key)", async () => {
  const { dir, outsideFile } = setup();
  const before = readFileSync(outsideFile, "utf8");
  const cases: Array<[string, Parameters<typeof openSafeWrite>[2]]> = [
    ["fresh.bin", {}],
    ["resumed.bin", { resume: true }],
    ["noted.bin", { resume: true, resumeKey: sha("new bytes") }],
  ];
  for (const [name, opts] of cases) {
    const final = join(dir, name);
    linkSync(outsideFile, partPathFor(final));
    if (opts?.resumeKey) writeFileSync(resumeNotePathFor(partPathFor(final)), `${opts.resumeKey}\n`);
    const w = await openSafeWrite(dir, name, { ...opts, size: 9 });
    const passedBy = name === "fresh.bin";
    assert.is(w.partPath, partPathFor(final, passedBy ? 2 : 1), `${name}: the name it writes under`);
    if (passedBy) assert.is(lstatSync(partPathFor(final)).ino, statSync(outsideFile).ino, `${name}: the planted link is left`);
    assert.is.not(lstatSync(w.partPath).ino, statSync(outsideFile).ino, `${name}: a new file, not the planted link`);
    assert.is(w.offset, 0, `${name}: nothing of it is resumed`);
    await w.write(bytes("new bytes"));
    const r = await w.finish(sha("new bytes"));
    assert.is(r.path, final);
    assert.is(readFileSync(final, "utf8"), "new bytes");
    assert.is.not(statSync(final).ino, statSync(outsideFile).ino, `${name}: the final name is a file of its own`);
    assert.is(readFileSync(outsideFile, "utf8"), before, `${name}: the file outside keeps its bytes`);
  }
  assert.is(statSync(outsideFile).nlink, 2, "the planted links taken as ours were removed, the file itself left");
});

test("another user's file at the temporary name, in a shared directory, is not taken over: the received file is ours", async () => {
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root to plant another user's file");
  const { dir } = setup();
  chmodSync(dir, 0o1777); // a shared folder: anyone may add files, only their owner (or root) remove them
  for (const [name, opts, note] of [["g.txt", { resume: true }, false], ["n.txt", { resume: true, resumeKey: "k" }, true]] as const) {
    const part = partPathFor(join(dir, name));
    writeFileSync(part, "");
    chownSync(part, 65534, 65534);
    if (note) {
      writeFileSync(resumeNotePathFor(part), "k\n");
      chownSync(resumeNotePathFor(part), 65534, 65534);
    }
    const w = await openSafeWrite(dir, name, { ...opts, size: 4 });
    assert.is(w.offset, 0, `${name}: nothing of theirs resumed`);
    await w.write(bytes("ours"));
    const r = await w.finish(sha("ours"));
    assert.is(statSync(r.path).uid, 0, `${name}: the received file is ours, not nobody's`);
    assert.is(readFileSync(r.path, "utf8"), "ours");
  }
});

test("as an ordinary user in a shared (sticky) directory, another user's leftovers neither stop a write nor end up as ours: a dead writer's lock, a part, a file under --overwrite, an equal file", async () => {
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root to plant another user's files and run as nobody");
  const { dir } = setup();
  chmodSync(join(dir, ".."), 0o755);
  chmodSync(dir, 0o1777);
  const other = 1234; // the user who left them; the write runs as nobody (65534)
  const plant = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    chownSync(join(dir, name), other, other);
  };
  // A killed download of big.bin: its part, note and lock, whose process is gone.
  plant(".big.bin.sfx-part", "kept");
  plant(".big.bin.sfx-resume", "k\n");
  plant(".big.bin.sfx-lock", `${2 ** 22 + 7} 0123456789abcdef ${hostname()}\n`);
  // Root's killed download (a sudo run) in the shared directory: its lock is as much not ours to remove.
  for (const [name, text] of [[".root.bin.sfx-part", "kept"], [".root.bin.sfx-resume", "k\n"], [".root.bin.sfx-lock", `${2 ** 22 + 8} 0123456789abcdef ${hostname()}\n`]]) {
    writeFileSync(join(dir, name), text);
  }
  plant("over.txt", "theirs");
  plant("same.txt", "ours");
  const script = `
    import { openSafeWrite, listKeptParts } from ${JSON.stringify(new URL("../../src/client/safe_write.ts", import.meta.url).href)};
    import { createHash } from "node:crypto";
    const dir = process.argv[1];
    const sha = (t) => createHash("sha256").update(t).digest("hex");
    const put = async (name, text, opts) => {
      const w = await openSafeWrite(dir, name, { size: text.length, ...opts });
      await w.write(new TextEncoder().encode(text));
      const r = await w.finish(sha(text));
      return { part: w.partPath.slice(dir.length + 1), path: r.path.slice(dir.length + 1), unchanged: r.unchanged === true };
    };
    const out = {};
    for (const [name, text, opts] of [["big.bin", "new bytes", { resume: true, resumeKey: "k" }], ["root.bin", "new bytes", { resume: true, resumeKey: "k" }], ["over.txt", "ours", { overwrite: true }], ["same.txt", "ours", {}]]) {
      out[name] = await put(name, text, opts).catch((e) => e.code + " " + e.message);
    }
    out.kept = (await listKeptParts(dir)).parts.length;
    console.log(JSON.stringify(out));`;
  const run = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script, dir], { encoding: "utf8" });
  assert.is(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout);
  assert.equal(r["big.bin"], { part: ".big.bin.2.sfx-part", path: "big.bin", unchanged: false }, "the dead writer's lock is theirs: the next temporary name");
  assert.equal(r["root.bin"], { part: ".root.bin.2.sfx-part", path: "root.bin", unchanged: false }, "root's dead writer's lock, which we may not remove: the next temporary name");
  assert.equal(r["over.txt"], { part: ".over.txt.sfx-part", path: "over (1).txt", unchanged: false }, "--overwrite may not replace theirs: saved beside it");
  assert.equal(r["same.txt"], { part: ".same.txt.sfx-part", path: "same (1).txt", unchanged: false }, "equal bytes, but theirs to change");
  assert.is(r.kept, 0, "their kept part is not listed as ours");
  assert.is(readFileSync(join(dir, "over.txt"), "utf8"), "theirs");
});

test("in a directory of another user's own (root receiving into alice's), her files are hers to trust: her kept part is resumed, her equal file is the same bytes", async () => {
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root");
  const { dir } = setup();
  const alice = 1234;
  chownSync(dir, alice, alice);
  const part = partPathFor(join(dir, "big.bin"));
  for (const [path, text] of [[part, "new "], [resumeNotePathFor(part), "k\n"], [join(dir, "same.txt"), "ours"]] as const) {
    writeFileSync(path, text);
    chownSync(path, alice, alice);
  }
  const w = await openSafeWrite(dir, "big.bin", { resume: true, resumeKey: "k", size: 9 });
  assert.is(w.partPath, part, "her part, taken up");
  await w.ready;
  assert.is(w.offset, 4, "resumed after her 4 bytes");
  await w.write(bytes("bytes"));
  assert.is((await w.finish(sha("new bytes"))).path, join(dir, "big.bin"));
  const same = await openSafeWrite(dir, "same.txt", { size: 4 });
  await same.write(bytes("ours"));
  const r = await same.finish(sha("ours"));
  assert.equal([r.path, r.unchanged], [join(dir, "same.txt"), true], "her equal file is the same bytes: no copy");
});

test("root's kept-part list (what --discard-kept deletes) holds a stranger's part in a shared directory never, and a user's in her own directory", async () => {
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root");
  const { dir } = setup();
  const alice = 1234;
  const shared = join(dir, "shared");
  const hers = join(dir, "hers");
  for (const [d, mode, owner] of [[shared, 0o1777, 0], [hers, 0o755, alice]] as const) {
    mkdirSync(d);
    chmodSync(d, mode);
    chownSync(d, owner, owner);
    const part = partPathFor(join(d, "big.bin"));
    for (const [path, text] of [[part, "kept"], [resumeNotePathFor(part), "k\n"]]) {
      writeFileSync(path, text);
      chownSync(path, alice, alice);
    }
  }
  assert.equal((await listKeptParts(shared)).parts, [], "a stranger's part in /tmp is not root's to discard");
  assert.equal((await listKeptParts(hers)).parts.map((p) => p.temporary), [partPathFor(join(hers, "big.bin"))]);
});

test("a hard link to a file outside, planted at the resume note's name, is replaced by our note, not written through", async () => {
  const { dir, outsideFile } = setup();
  const before = readFileSync(outsideFile, "utf8");
  const final = join(dir, "n.bin");
  linkSync(outsideFile, resumeNotePathFor(partPathFor(final)));
  // A note this write takes over (an older version of the file, say): it is rewritten with our key.
  const w = await openSafeWrite(dir, "n.bin", { resume: true, resumeKey: "our-key", reclaim: () => true });
  assert.is(w.partPath, partPathFor(final));
  assert.is(readFileSync(resumeNotePathFor(w.partPath), "utf8"), "our-key\n");
  assert.is(readFileSync(outsideFile, "utf8"), before, "the file outside keeps its bytes");
  assert.is(statSync(outsideFile).nlink, 1);
  await w.abort();
});

test("what is not a regular file at the temporary name (a symbolic link out of the target, a dangling one, a directory; a FIFO when resuming) is left alone: the write takes the next temporary name", async () => {
  const { dir, outsideFile } = setup();
  const before = readFileSync(outsideFile, "utf8");
  const cases: Array<[string, (part: string) => void, (part: string) => boolean, boolean[]]> = [
    ["link.bin", (part) => symlinkSync(outsideFile, part), (part) => lstatSync(part).isSymbolicLink(), [false, true]],
    ["dangling.bin", (part) => symlinkSync(join(dir, "nowhere"), part), (part) => lstatSync(part).isSymbolicLink(), [false, true]],
    ["dir.bin", (part) => mkdirSync(part), (part) => lstatSync(part).isDirectory(), [false, true]],
    // Not opened for a fresh write either, but opening one for writing would wait for a reader (a
    // hang, not a failure, without the check): only resumed here, where the open does not wait.
    ["fifo.bin", (part) => assert.is(spawnSync("mkfifo", [part]).status, 0), (part) => lstatSync(part).isFIFO(), [true]],
  ];
  for (const [name, plant, stillThere, modes] of cases) {
    for (const resume of modes) {
      const final = join(dir, name);
      const part = partPathFor(final);
      rmSync(final, { force: true });
      if (!lstatSync(part, { throwIfNoEntry: false })) plant(part);
      const w = await openSafeWrite(dir, name, { resume });
      assert.is(w.partPath, partPathFor(final, 2), `${name} (resume: ${resume})`);
      await w.write(bytes("ours"));
      await w.finish(sha("ours"));
      assert.is(readFileSync(final, "utf8"), "ours");
      assert.ok(stillThere(part), `${name}: left as it was`);
    }
  }
  assert.is(readFileSync(outsideFile, "utf8"), before);
});

test("a subdirectory swapped for a symbolic link out of the target between two files of one batch: the second file is refused, nothing lands outside", async () => {
  const { dir, outsideDir } = setup();
  const cache = newSafeWriteCache();
  await prepareDestination(dir, "sub/f1", cache);
  await prepareDestination(dir, "sub/f2", cache);
  const w1 = await openSafeWrite(dir, "sub/f1", { cache });
  await w1.write(bytes("one"));
  await w1.finish(sha("one"));
  // Someone who can write into the target, between two files.
  renameSync(join(dir, "sub"), join(dir, "sub.old"));
  symlinkSync(outsideDir, join(dir, "sub"));
  // Checked where it matters, just before the open (the batch's checks ran before the swap).
  await refused(openSafeWrite(dir, "sub/f2", { cache }), /symbolic link .* leads outside/);
  assert.equal(readdirSync(outsideDir), []);
  assert.equal(readdirSync(join(dir, "sub.old")), ["f1"]);
});

test("a subdirectory swapped for a symbolic link out of the target while its file is written: finish refuses to place it, and nothing outside is placed or removed", async () => {
  const { dir, outsideDir } = setup();
  for (const overwrite of [false, true]) {
    rmSync(join(dir, "sub"), { recursive: true, force: true });
    rmSync(join(dir, "sub.old"), { recursive: true, force: true });
    for (const n of readdirSync(outsideDir)) rmSync(join(outsideDir, n));
    const cache = newSafeWriteCache();
    const w = await openSafeWrite(dir, "sub/f", { cache, overwrite });
    await w.write(bytes("ours"));
    renameSync(join(dir, "sub"), join(dir, "sub.old"));
    symlinkSync(outsideDir, join(dir, "sub"));
    // What would be linked to the final name, or removed, through the swapped path.
    writeFileSync(join(outsideDir, ".f.sfx-part"), "theirs");
    await refused(w.finish(sha("ours")), /no longer in/);
    assert.equal(readdirSync(outsideDir), [".f.sfx-part"], `overwrite: ${overwrite}`);
    assert.is(readFileSync(join(outsideDir, ".f.sfx-part"), "utf8"), "theirs");
  }
});

test("a subdirectory swapped for a symbolic link out of the target between the check and the open of the temporary file: the open is refused before a byte is written", async () => {
  const { dir, outsideDir } = setup();
  const cache = newSafeWriteCache();
  await prepareDestination(dir, "sub/f", cache);
  const part = partPathFor(join(dir, "sub/f"));
  // Node gives no hook between a check and an open: the swap is made by open() itself, as it is
  // called (at once or through the thread pool, as src/fs_calls.ts chooses for this file system).
  const fs = createRequire(import.meta.url)("node:fs") as typeof import("node:fs");
  const { open, openSync } = fs;
  let swapped = false;
  const swap = (path: unknown) => {
    if (path === part && !swapped) {
      renameSync(join(dir, "sub"), join(dir, "sub.old"));
      symlinkSync(outsideDir, join(dir, "sub"));
      swapped = true;
    }
  };
  fs.openSync = ((path: string, ...rest: unknown[]) => {
    swap(path);
    return (openSync as (...a: unknown[]) => number)(path, ...rest);
  }) as typeof openSync;
  fs.open = ((path: string, ...rest: unknown[]) => {
    swap(path);
    return (open as (...a: unknown[]) => void)(path, ...rest);
  }) as typeof open;
  syncBuiltinESMExports();
  try {
    await refused(openSafeWrite(dir, "sub/f", { cache }), /was replaced while the file was being opened/);
  } finally {
    Object.assign(fs, { open, openSync });
    syncBuiltinESMExports();
  }
  assert.ok(swapped, "the swap was made (by the open() of the temporary file)");
  // The open itself made an empty file there (it cannot be told apart from one of theirs to remove).
  assert.equal(readdirSync(outsideDir), [".f.sfx-part"]);
  assert.is(statSync(join(outsideDir, ".f.sfx-part")).size, 0);
});

test.run();
