import { test } from "uvu";
import * as assert from "uvu/assert";
import { closeSync, constants, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atOnce, callsFor, type FsCalls, openFile, queued, SLOW_CALL_MS, watchful } from "../src/fs_calls.ts";
import { withTmpfs } from "./_tmpfs.ts";

test("callsFor(): at once on a local file system (a tmpfs), through the thread pool on one that may wait on a server or is not known (/proc stands in)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-calls-"));
  try {
    await withTmpfs(dir, "1m", async () => {
      const calls = await callsFor(dir);
      assert.is.not(calls, queued);
      // At once: the answer is there before anything else runs.
      let answered = false;
      void calls.lstat(dir).then(() => (answered = true));
      await Promise.resolve();
      assert.ok(answered, "answered within the same turn");
    });
    assert.is(await callsFor("/proc"), queued);
    assert.is(await callsFor(join(dir, "missing")), queued, "a file system that cannot be asked");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("watchful(): calls made at once until three of the last fifty have each taken over SLOW_CALL_MS, then through the thread pool; slow calls spread out (a busy machine) do not count", async () => {
  const { lstat } = atOnce;
  const queuedLstat = queued.lstat;
  let slowCalls = 0;
  let pooled = 0;
  let slowNow = true;
  atOnce.lstat = (path) => {
    if (slowNow) {
      const until = performance.now() + SLOW_CALL_MS + 1;
      while (performance.now() < until); // a call on a cold disk
      slowCalls++;
    }
    return lstat(path);
  };
  queued.lstat = (path) => {
    pooled++;
    return queuedLstat(path);
  };
  try {
    // Slow calls 60 apart: never three in fifty.
    const spread = watchful();
    for (let i = 0; i < 200; i++) {
      slowNow = i % 60 === 0;
      await spread.lstat("/");
    }
    assert.is(slowCalls, 4);
    assert.is(pooled, 0, "spread out, they do not count");
    slowNow = true;
    slowCalls = 0;
    const calls = watchful();
    for (let i = 0; i < 3; i++) await calls.lstat("/");
    assert.is(slowCalls, 3);
    assert.ok((await calls.lstat("/"))?.isDirectory());
    assert.is(slowCalls, 3, "no fourth slow call at once");
    assert.is(pooled, 1);
    // Another directory's calls are watched apart.
    await watchful().lstat("/");
    assert.is(slowCalls, 4);
  } finally {
    Object.assign(atOnce, { lstat });
    Object.assign(queued, { lstat: queuedLstat });
  }
});

for (const [name, calls] of [["atOnce", atOnce], ["queued", queued], ["watchful", watchful()]] as [string, FsCalls][]) {
  test(`${name}: the same answers and the same errors, as promises`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "sfx-calls-"));
    try {
      const path = join(dir, "f");
      assert.is(await calls.lstat(path), undefined, "nothing there");
      assert.is(await calls.stat(path).then(() => "", (e) => e.code), "ENOENT");
      const fd = await calls.open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
      assert.is(await calls.open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL).then(() => "", (e) => e.code), "EEXIST");
      assert.is(await calls.write(fd, new TextEncoder().encode("xhello"), 1, 5, 0), 5);
      const buf = new Uint8Array(8);
      assert.is(await calls.read(fd, buf, 0, 8, 1), 4);
      assert.is(new TextDecoder().decode(buf.subarray(0, 4)), "ello");
      const [a, b] = [new Uint8Array(2), new Uint8Array(8)];
      assert.is(await calls.readv(fd, [a, b], 0), 5);
      assert.is(new TextDecoder().decode(a) + new TextDecoder().decode(b.subarray(0, 3)), "hello");
      assert.is(await calls.writev(fd, [new TextEncoder().encode("HE"), new TextEncoder().encode("L")], 0), 3);
      await calls.fchmod(fd, 0o640);
      assert.is((await calls.fstat(fd)).mode & 0o777, 0o640);
      await calls.close(fd);
      await calls.link(path, join(dir, "g"));
      assert.is(await calls.link(path, join(dir, "g")).then(() => "", (e) => e.code), "EEXIST");
      assert.is((await calls.lstat(join(dir, "g")))?.nlink, 2);
      assert.is(await calls.realpath(join(dir, ".", "g")), join(await calls.realpath(dir), "g"));
      await calls.unlink(path);
      assert.is(await calls.unlink(path).then(() => "", (e) => e.code), "ENOENT");
      assert.is(readFileSync(join(dir, "g"), "utf8"), "HELlo");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("OpenFile: small reads and writes by the calls, large ones through the pool, the same bytes; closed once, and every call after close fails with EBADF (its descriptor's number may be another file's by then)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-calls-"));
  try {
    const f = await openFile(atOnce, join(dir, "f"), constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o600);
    const small = new Uint8Array(100).fill(1);
    const large = new Uint8Array(100_000).fill(2);
    assert.is((await f.writev([small, large], 0)).bytesWritten, 100_100);
    assert.is((await f.writev([small], 100_100)).bytesWritten, 100);
    const back = new Uint8Array(100_200);
    assert.is((await f.readv([back], 0)).bytesRead, 100_200);
    assert.equal([back[0], back[99], back[100], back[100_099], back[100_100]], [1, 1, 2, 2, 1]);
    assert.is((await f.read(new Uint8Array(10), 0, 10, 100_195)).bytesRead, 5);
    await f.sync();
    await f.truncate(10);
    assert.is((await f.stat()).size, 10);
    await Promise.all([f.close(), f.close()]);
    // The number goes to the next file opened: nothing may reach that one through f.
    const other = openSync(join(dir, "g"), "w+");
    try {
      assert.is(other, f.fd, "the descriptor's number taken again");
      for (const call of [() => f.writev([small], 0), () => f.read(new Uint8Array(1), 0, 1, 0), () => f.readv([small], 0), () => f.sync(), () => f.stat()]) {
        assert.is(await call().then(() => "", (e) => e.code), "EBADF");
      }
      assert.is(fstatSync(other).size, 0, "nothing written into the other file");
    } finally {
      closeSync(other);
    }
    for (const call of [() => f.writev([small], 0), () => f.read(new Uint8Array(1), 0, 1, 0), () => f.readv([small], 0), () => f.sync(), () => f.stat()]) {
      assert.is(await call().then(() => "", (e) => e.code), "EBADF");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
