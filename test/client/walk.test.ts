import { test } from "uvu";
import { createServer } from "node:net";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkStdin, collectFiles, fileSource, rechunk, withOfferedNames } from "../../src/client/walk.ts";
import { DATA_MESSAGE_BYTES } from "../../src/protocol/defaults.ts";
import { collectShareFiles } from "../../src/client/share.ts";
import { isSfxError } from "../../src/errors.ts";
import { queued } from "../../src/fs_calls.ts";

const root = mkdtempSync(join(tmpdir(), "sfx-walk-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

async function bytesOf(it: AsyncIterable<Uint8Array>): Promise<{ total: number; chunks: number[] }> {
  const chunks: number[] = [];
  for await (const c of it) chunks.push(c.length);
  return { total: chunks.reduce((a, b) => a + b, 0), chunks };
}

test("collectFiles() walks a directory tree in name order, keeping the directory's name", async () => {
  const d = join(root, "tree");
  mkdirSync(join(d, "b/c"), { recursive: true });
  writeFileSync(join(d, "z.txt"), "z");
  writeFileSync(join(d, "b/a.txt"), "aa");
  writeFileSync(join(d, "b/c/deep.bin"), new Uint8Array(200_000));
  const single = join(root, "single.txt");
  writeFileSync(single, "hello");
  const files = await collectFiles([d, single]);
  assert.equal(files.map((f) => [f.path, f.size]), [["tree/b/a.txt", 2], ["tree/b/c/deep.bin", 200_000], ["tree/z.txt", 1], ["single.txt", 5]]);
  const deep = await bytesOf(files[1].read());
  assert.is(deep.total, 200_000);
  assert.ok(deep.chunks.every((n) => n <= DATA_MESSAGE_BYTES));
});

test("inside a directory a link to a file is followed; other links, FIFOs are left out and reported", async () => {
  const d = join(root, "links");
  mkdirSync(join(d, "sub"), { recursive: true });
  writeFileSync(join(d, "target"), "target bytes");
  symlinkSync("target", join(d, "l1"));
  symlinkSync("nowhere", join(d, "broken"));
  symlinkSync("sub", join(d, "dirlink"));
  symlinkSync("loop2", join(d, "loop1"));
  symlinkSync("loop1", join(d, "loop2"));
  execFileSync("mkfifo", [join(d, "fifo")]);
  const skipped: string[] = [];
  const files = await collectFiles([d], { onSkip: (path, why, kind) => skipped.push(`${path}: ${why} (${kind})`) });
  assert.equal(files.map((f) => [f.path, f.size]), [["links/l1", 12], ["links/target", 12]]);
  // None of these is a failure: sfx never sends such entries.
  assert.equal(skipped, [
    "links/broken: a broken symbolic link (skipped)",
    "links/dirlink: a symbolic link to a directory (not followed) (skipped)",
    "links/fifo: not a regular file (skipped)",
    "links/loop1: a broken symbolic link (it loops) (skipped)",
    "links/loop2: a broken symbolic link (it loops) (skipped)",
  ]);
  const l1 = await bytesOf(files[0].read());
  assert.is(l1.total, 12);
});

test("inside a directory, names sfx cannot send and leftover partial files are left out and reported, not the end of the send", async () => {
  const d = join(root, "odd");
  mkdirSync(d);
  writeFileSync(join(d, "ok.txt"), "ok");
  writeFileSync(join(d, ".movie.mkv.sfx-part"), "half a movie");
  writeFileSync(join(d, ".movie.mkv.sfx-resume"), "hash");
  writeFileSync(join(d, ".sfx-stale-0123456789abcdef-1"), "123 0123456789abcdef host"); // a takeover cut short by a crash
  // The user's own files, named like partial files: no receiver takes them, so they are failures, not skipped.
  writeFileSync(join(d, "notes.sfx-part"), "my notes");
  writeFileSync(join(d, ".Y.SFX-PART"), "mine too");
  writeFileSync(join(d, ".sfx-stale-notes"), "not sfx's name for one: the user's (it was left out, exit 0)");
  writeFileSync(join(d, "bell\u0007.txt"), "ding");
  writeFileSync(Buffer.concat([Buffer.from(`${d}/caf`), Buffer.from([0xe9]), Buffer.from(".txt")]), "latin-1 name");
  mkdirSync(Buffer.concat([Buffer.from(`${d}/d`), Buffer.from([0xff])]));
  const skipped: string[] = [];
  const files = await collectFiles([d], { onSkip: (path, why, kind) => skipped.push(`${path}: ${why} (${kind})`) });
  assert.equal(files.map((f) => f.path), ["odd/ok.txt"]);
  // sfx's own partial files are never sent; files it cannot name for the receiver are failures.
  assert.equal(skipped.sort(), [
    "odd/.Y.SFX-PART: its name cannot be sent: names ending in .sfx-part, .sfx-lock or .sfx-resume, or starting with .sfx-stale-, are reserved for partial files (failed)",
    "odd/.movie.mkv.sfx-part: a partial file of an unfinished sfx transfer (skipped)",
    "odd/.movie.mkv.sfx-resume: a partial file of an unfinished sfx transfer (skipped)",
    "odd/.sfx-stale-0123456789abcdef-1: a partial file of an unfinished sfx transfer (skipped)",
    "odd/.sfx-stale-notes: its name cannot be sent: names ending in .sfx-part, .sfx-lock or .sfx-resume, or starting with .sfx-stale-, are reserved for partial files (failed)",
    "odd/bell\u0007.txt: its name cannot be sent: it contains control characters (failed)", // the name as it is: --json keeps it exact
    "odd/caf\ufffd.txt: its name is not valid UTF-8 (failed)",
    "odd/d\ufffd: its name is not valid UTF-8 (failed)",
    "odd/notes.sfx-part: its name cannot be sent: names ending in .sfx-part, .sfx-lock or .sfx-resume, or starting with .sfx-stale-, are reserved for partial files (failed)",
  ]);
});

test("a pipe given by name (a FIFO, <(cmd), /dev/stdin) is refused with a hint to send its bytes through standard input; a socket without one", async () => {
  const d = mkdtempSync(join(tmpdir(), "sfx-walk-fifo-"));
  try {
    execFileSync("mkfifo", [join(d, "log.fifo")]);
    const err = await collectFiles([join(d, "log.fifo")]).then(() => undefined, (e: unknown) => e);
    assert.is((err as Error).message, `Cannot send ${join(d, "log.fifo")}: not a regular file or directory; send its bytes through standard input instead: cat ${join(d, "log.fifo")} | sfx send --to ID --name log.fifo -`);
    // <(cmd): a pipe at /dev/fd/N, which exists in the command that made it only.
    const sub = spawnSync("bash", ["-c", 'exec "$0" -e "import(process.argv[1]).then((w) => w.collectFiles([process.argv[2]])).catch((e) => console.log(e.message))" "$1" <(echo hi)', process.execPath, new URL("../../src/client/walk.ts", import.meta.url).pathname], { encoding: "utf8" });
    assert.match(sub.stdout.trim(), /^Cannot send \/dev\/fd\/\d+: not a regular file or directory; send its bytes through standard input instead: COMMAND \| sfx send --to ID --name NAME -$/, sub.stderr);
    const share = await collectFiles([join(d, "log.fifo")], { command: "sfx share put" }).then(() => undefined, (e: unknown) => e);
    assert.match((share as Error).message, / \| sfx share put --name log\.fifo -$/);
    const sock = join(d, "s.sock");
    const server = createServer().listen(sock);
    await new Promise((r) => server.once("listening", r));
    try {
      const e2 = await collectFiles([sock]).then(() => undefined, (e: unknown) => e);
      assert.is((e2 as Error).message, `Cannot send ${sock}: not a regular file or directory`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

test("what an entry is decides before its name: a FIFO or broken link with a name sfx cannot send is no failure; a link to a file named in no UTF-8 is one, not 'broken'", async () => {
  const d = join(root, "kinds");
  mkdirSync(d);
  writeFileSync(join(d, "real.txt"), "real");
  execFileSync("mkfifo", [join(d, "p\u0001ipe")]);
  execFileSync("sh", ["-c", 'mkfifo "$(printf "%s/q\\377" "$1")"', "sh", d]); // the byte 0xff: not UTF-8
  symlinkSync("nowhere", join(d, "l\tink"));
  symlinkSync("real.txt", Buffer.concat([Buffer.from(`${d}/copy`), Buffer.from([0xfe]), Buffer.from(".txt")]));
  const skipped: string[] = [];
  const files = await collectFiles([d], { onSkip: (path, why, kind) => skipped.push(`${path}: ${why} (${kind})`) });
  assert.equal(files.map((f) => f.path), ["kinds/real.txt"]);
  assert.equal(skipped.sort(), [
    "kinds/copy\ufffd.txt: its name is not valid UTF-8 (failed)",
    "kinds/l\tink: a broken symbolic link (skipped)",
    "kinds/p\u0001ipe: not a regular file (skipped)",
    "kinds/q\ufffd: not a regular file (skipped)",
  ]);
});

test("a directory whose every entry could not be read or named: nothing to send, an I/O failure (as one such file given by name), not a usage error", async () => {
  const d = join(root, "allbad");
  mkdirSync(d);
  writeFileSync(join(d, "bell\u0007.txt"), "ding");
  symlinkSync("nowhere", join(d, "dangling"));
  const err = await collectFiles([d]).then(() => undefined, (e) => e);
  assert.is(err?.code, "SFX_IO", String(err));
  assert.is(err.message, "Nothing to send: 1 entry of the directory could not be read or named (listed above as 'left out')");
  // Only entries sfx never sends: still "nothing to send" as a usage error.
  const links = join(root, "onlylinks");
  mkdirSync(links);
  symlinkSync("nowhere", join(links, "dangling"));
  const usage = await collectFiles([links]).then(() => undefined, (e) => e);
  assert.is(usage?.code, "SFX_USAGE", String(usage));
});

test("what the sending user may not read is left out inside a directory, and refused when given itself, before anything is offered", async () => {
  // Root reads everything: the walk runs as nobody.
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root to run the walk as another user");
  const root = mkdtempSync(join(tmpdir(), "sfx-walk-denied-"));
  try {
    chmodSync(root, 0o755);
    mkdirSync(join(root, "d", "closed"), { recursive: true });
    writeFileSync(join(root, "d", "a.txt"), "a");
    writeFileSync(join(root, "d", "secret"), "s");
    writeFileSync(join(root, "d", "closed", "x"), "x");
    mkdirSync(join(root, "d", "listed"));
    writeFileSync(join(root, "d", "listed", "y"), "y");
    writeFileSync(join(root, "d", "z.txt"), "z");
    chmodSync(join(root, "d"), 0o755);
    chmodSync(join(root, "d", "secret"), 0o000);
    chmodSync(join(root, "d", "closed"), 0o700);
    chmodSync(join(root, "d", "listed"), 0o744); // others may list it, not enter it
    const script = `
      import { collectFiles } from ${JSON.stringify(new URL("../../src/client/walk.ts", import.meta.url).href)};
      const skipped = [];
      const files = await collectFiles([process.argv[1]], { onSkip: (p, why, kind) => skipped.push([p, why, kind]) });
      const alone = await collectFiles([process.argv[2]]).then(() => "sent", (e) => e.code + " " + e.message);
      console.log(JSON.stringify({ files: files.map((f) => f.path), skipped, alone }));`;
    const out = execFileSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script, join(root, "d"), join(root, "d", "secret")], { encoding: "utf8" });
    const r = JSON.parse(out);
    assert.equal(r.files, ["d/a.txt", "d/z.txt"]);
    const denied = "this user may not read it (permission denied)";
    assert.equal(r.skipped, [["d/closed", denied, "failed"], ["d/listed/y", denied, "failed"], ["d/secret", denied, "failed"]]);
    assert.is(r.alone, `SFX_IO Cannot read ${join(root, "d", "secret")}: permission denied (EACCES)`);
    // Under Deno, as root: what root may read is sent (Deno's access() judges by the mode bits alone).
    const deno = new URL("../../node_modules/.bin/deno", import.meta.url).pathname;
    const asRoot = execFileSync(deno, ["eval", "--quiet", script.replaceAll("process.argv[1]", JSON.stringify(join(root, "d"))).replaceAll("process.argv[2]", JSON.stringify(join(root, "d", "secret")))], {
      encoding: "utf8",
      cwd: new URL("../..", import.meta.url).pathname,
      env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
    });
    const d = JSON.parse(asRoot);
    assert.equal(d.files, ["d/a.txt", "d/closed/x", "d/listed/y", "d/secret", "d/z.txt"], asRoot);
    assert.is(d.alone, "sent");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a directory whose every entry is left out is refused as such, not as empty", async () => {
  const root = mkdtempSync(join(tmpdir(), "sfx-walk-none-"));
  try {
    mkdirSync(join(root, "d"));
    execFileSync("mkfifo", [join(root, "d", "pipe")]);
    symlinkSync(join(root, "nowhere"), join(root, "d", "dangling"));
    const err = await collectFiles([join(root, "d")]).then(() => undefined, (e: unknown) => e);
    assert.ok(isSfxError(err, "SFX_USAGE"), String(err));
    assert.is((err as Error).message, "Nothing to send: all 2 entries of the directory were left out");
    mkdirSync(join(root, "e"));
    const empty = await collectFiles([join(root, "e")]).then(() => undefined, (e: unknown) => e);
    assert.is((empty as Error).message, "Nothing to send: the directory is empty");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a file of 1 MiB or more offers its modification time (to be resumed); a smaller one, or one dated before 1970, does not (and is still sent)", async () => {
  const d = join(root, "times");
  mkdirSync(d);
  writeFileSync(join(d, "big.bin"), new Uint8Array(1024 * 1024));
  writeFileSync(join(d, "small.bin"), new Uint8Array(1000));
  writeFileSync(join(d, "old.bin"), new Uint8Array(1024 * 1024));
  utimesSync(join(d, "old.bin"), new Date("1969-12-31T23:59:59Z"), new Date("1969-12-31T23:59:59Z"));
  const files = await collectFiles([join(d, "big.bin"), join(d, "small.bin"), join(d, "old.bin")]);
  assert.equal(files.map((f) => [f.path, f.modified]), [["big.bin", Math.floor(statSync(join(d, "big.bin")).mtimeMs)], ["small.bin", undefined], ["old.bin", undefined]]);
  let bytes = 0;
  for await (const c of files[2].read()) bytes += c.length;
  assert.is(bytes, 1024 * 1024);
});

test("collectFiles() reads '-' from the given stream under --name, size unknown", async () => {
  async function* stdin() {
    yield new Uint8Array(100_000);
    yield "tail";
  }
  const files = await collectFiles(["-"], { stdinName: "piped.bin", stdin: stdin() });
  assert.is(files[0].path, "piped.bin");
  assert.is(files[0].size, null);
  const got = await bytesOf(files[0].read());
  assert.is(got.total, 100_004);
  assert.equal(got.chunks, [DATA_MESSAGE_BYTES, 100_004 - DATA_MESSAGE_BYTES]);
});

test("standard input that cannot be read (opened for writing only: EBADF) fails as SFX_IO naming it, not as a bug of sfx's", async () => {
  async function* stdin(): AsyncIterable<Uint8Array> {
    yield new Uint8Array(10);
    throw Object.assign(new Error("EBADF: bad file descriptor, read"), { code: "EBADF" });
  }
  const [f] = await collectFiles(["-"], { stdinName: "piped.bin", stdin: stdin() });
  try {
    await bytesOf(f.read());
    assert.unreachable("read it");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"), String(err));
    assert.is((err as Error).message, "Cannot read standard input: bad file descriptor (EBADF)");
  }
});

test("collectFiles() of nothing says no files were given (not that directories are empty)", async () => {
  try {
    await collectFiles([]);
    assert.unreachable("collected nothing");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_USAGE"), String(err));
    assert.is((err as Error).message, "Nothing to send: no files given");
  }
});

const usage: Array<[string, string[], Record<string, unknown>, string]> = [
  ["'-' without --name", ["-"], {}, "SFX_USAGE"],
  ["a --name that leaves the directory", ["-"], { stdinName: "../x" }, "SFX_USAGE"],
  ["a missing file", ["/nonexistent/file"], {}, "SFX_IO"],
  ["two files with the same name", ["@a", "@a"], {}, "SFX_USAGE"],
];
for (const [what, args, opts, code] of usage) {
  test(`collectFiles() refuses ${what} with ${code}`, async () => {
    const real = args.map((a) => (a === "@a" ? join(root, "dup.txt") : a));
    writeFileSync(join(root, "dup.txt"), "d");
    try {
      await collectFiles(real, opts as never);
      assert.unreachable();
    } catch (err) {
      assert.ok(isSfxError(err, code as never), String(err));
    }
  });
}

test("rechunk() cuts any stream into full-size messages plus a tail", async () => {
  async function* src() {
    for (let i = 0; i < 100; i++) yield new Uint8Array(3000 + i);
  }
  const got = await bytesOf(rechunk(src()));
  const total = Array.from({ length: 100 }, (_, i) => 3000 + i).reduce((a, b) => a + b, 0);
  assert.is(got.total, total);
  assert.ok(got.chunks.slice(0, -1).every((n) => n === DATA_MESSAGE_BYTES));
});

test("a file is read as whole fresh buffers of one message each, byte-exact across batch boundaries", async () => {
  // 16 messages per read: sizes below, at and across a batch, and an exact multiple.
  for (const size of [1, DATA_MESSAGE_BYTES, 16 * DATA_MESSAGE_BYTES, 16 * DATA_MESSAGE_BYTES + 1, 40 * DATA_MESSAGE_BYTES + 12_345]) {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = (i * 131 + (i >>> 16)) & 0xff;
    const path = join(root, `src-${size}.bin`);
    writeFileSync(path, data);
    const got = new Uint8Array(size);
    let off = 0;
    const buffers = new Set<ArrayBufferLike>();
    for await (const c of fileSource(path, "x", size).read()) {
      assert.ok(c.length <= DATA_MESSAGE_BYTES, `message of ${c.length} bytes`);
      assert.is(c.byteOffset, 0, "a whole buffer, so the transport may free it");
      assert.is(c.buffer.byteLength, c.length, "a whole buffer, so the transport may free it");
      assert.not.ok(buffers.has(c.buffer), "never a buffer twice");
      buffers.add(c.buffer);
      got.set(c, off);
      off += c.length;
    }
    assert.is(off, size);
    assert.ok(Buffer.from(got).equals(Buffer.from(data)), `bytes of a ${size}-byte file`);
  }
});

async function readAll(source: AsyncIterable<Uint8Array>, during?: (n: number) => void): Promise<unknown> {
  let n = 0;
  try {
    for await (const c of source) during?.(n++ + 0 * c.length);
  } catch (err) {
    return err;
  }
  return undefined;
}

test("a file rewritten while it is read (same size) fails with SFX_IO before its end: the receiver keeps nothing of it", async () => {
  const path = join(root, "rewritten.bin");
  const size = 40 * DATA_MESSAGE_BYTES;
  writeFileSync(path, new Uint8Array(size).fill(0x41));
  const st = statSync(path);
  const err = await readAll(fileSource(path, "x", size, st).read(), (n) => {
    if (n === 0) writeFileSync(path, new Uint8Array(size).fill(0x42)); // same inode, same size, new bytes
  });
  assert.ok(isSfxError(err, "SFX_IO"), String(err));
  assert.match((err as Error).message, /changed while being sent/);
});

test("a file that changed, was rewritten in place (same size) or was replaced (even by a FIFO) after it was offered fails at once with SFX_IO", async () => {
  const grown = join(root, "grown.bin");
  writeFileSync(grown, "1234");
  const g = statSync(grown);
  writeFileSync(grown, "123456");
  const e1 = await readAll(fileSource(grown, "x", 4, g).read());
  assert.match(String((e1 as Error).message), /changed after it was offered \(4 bytes then, 6 now\)/);
  const replaced = join(root, "replaced.bin");
  writeFileSync(replaced, "abc");
  const r = statSync(replaced);
  unlinkSync(replaced);
  execFileSync("mkfifo", [replaced]);
  const t0 = Date.now();
  const e2 = await readAll(fileSource(replaced, "x", 3, r).read());
  assert.ok(isSfxError(e2, "SFX_IO"), String(e2));
  assert.match((e2 as Error).message, /no longer a regular file/);
  assert.ok(Date.now() - t0 < 2000, "opening the FIFO did not block");
  // Rewritten in place, same size, inode and all (dd conv=notrunc): its time says so.
  const rewritten = join(root, "rewritten.bin");
  writeFileSync(rewritten, "abcd");
  utimesSync(rewritten, 1_700_000_000, 1_700_000_000);
  const w = statSync(rewritten);
  const fd = openSync(rewritten, "r+");
  writeSync(fd, "wxyz", 0);
  closeSync(fd);
  assert.is(statSync(rewritten).ino, w.ino);
  const e3 = await readAll(fileSource(rewritten, "x", 4, w).read());
  assert.ok(isSfxError(e3, "SFX_IO"), String(e3));
  assert.match((e3 as Error).message, /rewritten after it was offered/);
});

test("a name given on the command line that is not valid UTF-8 is refused as such, not as a missing file", async () => {
  const d = join(root, "badarg");
  mkdirSync(d);
  const raw = Buffer.concat([Buffer.from(`${d}/caf`), Buffer.from([0xe9]), Buffer.from(".txt")]);
  writeFileSync(raw, "latin-1 name");
  // As a shell hands it over: argv bytes decoded as UTF-8.
  const arg = raw.toString("utf8");
  try {
    await collectFiles([arg]);
    assert.unreachable("accepted");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_BAD_ARGUMENT"), String(err));
    assert.match((err as Error).message, /its name is not valid UTF-8/);
  }
});

test("a name that is not UTF-8 beside one truly written with U+FFFD (both read as the same string): neither is sent, for the path names the second; a U+FFFD name alone is sent", async () => {
  const d = join(root, "fffd");
  mkdirSync(d);
  writeFileSync(Buffer.concat([Buffer.from(`${d}/x`), Buffer.from([0xff]), Buffer.from(".txt")]), "INVALID");
  writeFileSync(join(d, "x\ufffd.txt"), "REAL");
  writeFileSync(join(d, "y\ufffd.txt"), "ALONE");
  // Given by name: as a shell hands the first over, it reads as the second's name.
  try {
    await collectFiles([join(d, "x\ufffd.txt")]);
    assert.unreachable("sent one file's bytes under the other's name");
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_BAD_ARGUMENT"), String(err));
    assert.match((err as Error).message, /its name, or another's in its folder, is not valid UTF-8, and the two cannot be told apart; rename it$/);
  }
  assert.equal((await collectFiles([join(d, "y\ufffd.txt")])).map((f) => f.path), ["y\ufffd.txt"]);
  const skipped: string[] = [];
  const files = await collectFiles([d], { onSkip: (path, why, kind) => skipped.push(`${path}: ${why} (${kind})`) });
  assert.equal(files.map((f) => f.path), ["fffd/y\ufffd.txt"]);
  assert.equal(skipped, [
    "fffd/x\ufffd.txt: its name is not valid UTF-8, or is one such a name cannot be told from (failed)",
    "fffd/x\ufffd.txt: its name is not valid UTF-8, or is one such a name cannot be told from (failed)",
  ]);
});

test("a path inside the tree longer than the system takes (PATH_MAX) is left out as a failure, not the end of the whole send", async () => {
  const d = join(root, "deep");
  mkdirSync(d);
  writeFileSync(join(d, "top.txt"), "top");
  // 18 levels of 250-byte names: made one relative step at a time, as no absolute path may be that long.
  const long = "d".repeat(250);
  const here = process.cwd();
  try {
    process.chdir(d);
    for (let i = 0; i < 18; i++) {
      mkdirSync(long);
      process.chdir(long);
    }
    writeFileSync("f.txt", "deep");
  } finally {
    process.chdir(here);
  }
  try {
    const skipped: string[] = [];
    const files = await collectFiles([d], { onSkip: (path, why, kind) => skipped.push(`${why} (${kind})`) });
    assert.ok(files.some((f) => f.path === "deep/top.txt"));
    assert.equal(skipped, ["its path is longer than this system takes (failed)"]);
  } finally {
    execFileSync("rm", ["-rf", d]);
  }
});

test("a tree deeper than sfx walks: the hint to send it as one archive names the command in use (send, or share put)", async () => {
  const d = join(root, "too-deep");
  mkdirSync(join(d, ...Array.from({ length: 66 }, () => "d")), { recursive: true });
  for (const [collect, command] of [[collectFiles, "sfx send --to ID"], [collectShareFiles, "sfx share put"]] as const) {
    try {
      await collect([d]);
      assert.unreachable("walked it");
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_LIMIT"), String(err));
      assert.ok((err as Error).message.endsWith(`(tar c DIR | ${command} - --name DIR.tar)`), (err as Error).message);
    }
  }
});

test("a file with bytes past its size when it is sent (a /proc file says 0) fails with SFX_IO saying so, without a command line for the receiver to read", async () => {
  const st = statSync("/proc/cpuinfo");
  const err = await readAll(fileSource("/proc/cpuinfo", "cpuinfo", st.size, st).read());
  assert.ok(isSfxError(err, "SFX_IO"), String(err));
  assert.is((err as Error).message, "Cannot send /proc/cpuinfo: it has bytes although its size is 0 (a /proc or /sys file?)");
});

test("standard input that is a directory (sfx send - < dir) is refused: reading one just ends, as an empty file", () => {
  const dirFd = openSync(root, "r");
  const fileFd = openSync(join(root, "grown.bin"), "r");
  try {
    try {
      checkStdin(dirFd);
      assert.unreachable("a directory was taken as standard input");
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_IO"), String(err));
      assert.match((err as Error).message, /standard input: it is a directory/);
    }
    checkStdin(fileFd);
  } finally {
    closeSync(dirFd);
    closeSync(fileFd);
  }
});

test("withOfferedNames: each file's local path becomes the name it was offered under, the longest first (one path may begin another); others stay", () => {
  const files = [
    { path: "a/x", local: "/home/me/a/x" },
    { path: "a/x.txt", local: "/home/me/a/x.txt" },
    { path: "stdin.dat" },
  ];
  assert.is(withOfferedNames("Cannot send /home/me/a/x.txt: it grew; /home/me/a/x too; /home/me/b stays", files), "Cannot send a/x.txt: it grew; a/x too; /home/me/b stays");
  assert.is(withOfferedNames("nothing local", files), "nothing local");
});

test("a file of size 0 that reads bytes (/proc/uptime) is left out of a tree, and refused given by name, before anything is offered, with how to send it; an empty file is sent", async () => {
  if (statSync("/proc/uptime", { throwIfNoEntry: false })?.size !== 0) return console.warn("SKIP: no /proc/uptime of size 0");
  const d = join(root, "procfile");
  mkdirSync(d);
  writeFileSync(join(d, "a.txt"), "a");
  writeFileSync(join(d, "empty"), "");
  symlinkSync("/proc/uptime", join(d, "up"));
  const skipped: Array<[string, string, string]> = [];
  const files = await collectFiles([d], { onSkip: (p, why, kind) => skipped.push([p, why, kind]) });
  assert.equal(files.map((f) => f.path).sort(), ["procfile/a.txt", "procfile/empty"]);
  assert.equal(skipped, [["procfile/up", "it has bytes although its size is 0 (a /proc or /sys file?): send it through standard input", "failed"]]);
  const err = await collectFiles(["/proc/uptime"]).then(() => undefined, (e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_IO"), String(err));
  assert.is((err as Error).message, "Cannot send /proc/uptime: it has bytes although its size is 0 (a /proc or /sys file?); send it through standard input instead ('-' with --name uptime: cat /proc/uptime | sfx send --to ID --name uptime -)");
});

test("each file's checks are made with the calls of the file system it is really on: a link in a local tree (or named) to a file on another (/proc) goes through the thread pool", async () => {
  const d = join(root, "mixed");
  mkdirSync(d);
  writeFileSync(join(d, "local.txt"), "here");
  symlinkSync("/proc/self/status", join(d, "status"));
  const named = join(root, "status-link");
  symlinkSync("/proc/self/status", named);
  const opened: string[] = [];
  const { open } = queued;
  queued.open = (path, flags, mode) => {
    opened.push(path);
    return open(path, flags, mode);
  };
  try {
    const skipped: string[] = [];
    const files = await collectFiles([d], { onSkip: (path) => skipped.push(path) });
    assert.equal(files.map((f) => f.path), ["mixed/local.txt"]);
    assert.equal(skipped, ["mixed/status"], "left out: its size says nothing");
    assert.equal(opened, [join(d, "status")], "only the file on /proc, through the pool");
    await collectFiles([named]).then(() => assert.unreachable("sent"), () => {});
    assert.equal(opened, [join(d, "status"), named]);
  } finally {
    Object.assign(queued, { open });
  }
});

test.run();
