import { test } from "uvu";
import * as assert from "uvu/assert";
import { constants, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atOnce, callsFor, type FsCalls, queued } from "../src/fs_calls.ts";
import { withTmpfs } from "./_tmpfs.ts";

test("callsFor(): at once on a local file system (a tmpfs), through the thread pool on one that may wait on a server or is not known (/proc stands in)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-calls-"));
  try {
    await withTmpfs(dir, "1m", async () => {
      assert.is(await callsFor(dir), atOnce);
    });
    assert.is(await callsFor("/proc"), queued);
    assert.is(await callsFor(join(dir, "missing")), queued, "a file system that cannot be asked");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [name, calls] of [["atOnce", atOnce], ["queued", queued]] as [string, FsCalls][]) {
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
      await calls.fchmod(fd, 0o640);
      assert.is((await calls.fstat(fd)).mode & 0o777, 0o640);
      await calls.close(fd);
      await calls.link(path, join(dir, "g"));
      assert.is(await calls.link(path, join(dir, "g")).then(() => "", (e) => e.code), "EEXIST");
      assert.is((await calls.lstat(join(dir, "g")))?.nlink, 2);
      assert.is(await calls.realpath(join(dir, ".", "g")), join(await calls.realpath(dir), "g"));
      await calls.unlink(path);
      assert.is(await calls.unlink(path).then(() => "", (e) => e.code), "ENOENT");
      assert.is(readFileSync(join(dir, "g"), "utf8"), "hello");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
