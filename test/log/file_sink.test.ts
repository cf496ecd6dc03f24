import { test } from "uvu";
import * as assert from "uvu/assert";
import { closeSync, lstatSync, openSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { LogRecord } from "@logtape/logtape";
import { openLogFile } from "../../src/log/file_sink.ts";
import { fillUp, withTmpfs } from "../_tmpfs.ts";
import { tempDirs } from "../_temp.ts";

const fresh = tempDirs(test, "sfx-logfile-");

const format = (r: LogRecord) => `${r.category.join(".")}: ${r.message.join("")}\n`;
const record = (message: string, timestamp = Date.now()): LogRecord => ({ category: ["sfx", "test"], level: "info", message: [message], rawMessage: message, timestamp, properties: {} });

test("on a full disk no line is cut or glued to the next: once lines get through again, one line says how many were lost and why", async () => {
  const dir = fresh();
  await withTmpfs(dir, "64k", async () => {
    const path = join(dir, "server.log");
    // Every record is written at once (a 1-byte buffer): the disk fills between two records, or inside one.
    const sink = openLogFile(path, { format, maxBytes: 1 << 20, maxFiles: 2, bufferBytes: 1, flushIntervalMs: 10 });
    try {
      sink(record("before"));
      const filler = fillUp(dir);
      const total = 40;
      for (let i = 0; i < total; i++) sink(record(`line ${i} ${"x".repeat(100)}`));
      rmSync(filler);
      sink(record("after"));
      const lines = readFileSync(path, "utf8").split("\n");
      assert.is(lines.pop(), "", "the file ends with a whole line");
      assert.is(lines[0], "sfx.test: before");
      assert.is(lines.at(-1), "sfx.test: after");
      const kept = lines.filter((l) => l.startsWith("sfx.test: line "));
      const notices = lines.filter((l) => l.startsWith("sfx.log: "));
      for (const l of kept) assert.match(l, /^sfx\.test: line \d+ x{100}$/);
      assert.is(notices.length, 1, lines.join("\n"));
      const m = /^sfx\.log: (\d+) log lines? lost: the log file could not be written \(ENOSPC\)$/.exec(notices[0]);
      assert.ok(m, notices[0]);
      assert.is(kept.length + Number(m![1]), total, "every line is either in the file or counted as lost");
      assert.is(lines.length, 2 + kept.length + 1, "nothing but whole lines");
    } finally {
      sink[Symbol.dispose]();
    }
  });
});

test("on a full disk the notice of lost lines takes the time of the first line lost: times in the file never go back, also when part of a batch got out", async () => {
  const dir = fresh();
  await withTmpfs(dir, "64k", async () => {
    const path = join(dir, "server.log");
    const timed = (r: LogRecord) => `${r.timestamp} ${format(r)}`;
    // About six lines per write: the disk fills inside a batch.
    const sink = openLogFile(path, { format: timed, maxBytes: 1 << 20, maxFiles: 2, bufferBytes: 700, flushIntervalMs: 10_000 });
    try {
      let t = 1000;
      // Written before the disk fills: the file's last page has room left, which later batches fill part-way.
      for (let i = 0; i < 7; i++) sink(record(`before ${i} ${"b".repeat(100)}`, t++));
      const filler = fillUp(dir);
      for (let i = 0; i < 60; i++) sink(record(`line ${i} ${"x".repeat(100)}`, t++));
      rmSync(filler);
      for (let i = 0; i < 12; i++) sink(record(`after ${i} ${"y".repeat(100)}`, t++));
    } finally {
      sink[Symbol.dispose]();
    }
    const times = readFileSync(path, "utf8").trimEnd().split("\n").map((l) => Number(l.split(" ")[0]));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] >= times[i - 1], `line ${i + 1} goes back in time: ${times[i - 1]} then ${times[i]}`);
    assert.ok(readFileSync(path, "utf8").includes("log lines lost"), "some lines were lost");
  });
});

test("a leftover at the rotation's temporary name (a symlink planted there) is removed, not followed", () => {
  const dir = fresh();
  const path = join(dir, "server.log");
  const victim = join(dir, "victim");
  writeFileSync(victim, "precious");
  for (const name of [`${path}.rotating`, `${path}.${process.pid}.rotating`]) symlinkSync(victim, name);
  const sink = openLogFile(path, { format, maxBytes: 100, maxFiles: 2, bufferBytes: 1, flushIntervalMs: 10 });
  try {
    for (let i = 0; i < 4; i++) sink(record(`line ${i} ${"x".repeat(40)}`)); // rotates
  } finally {
    sink[Symbol.dispose]();
  }
  assert.is(readFileSync(victim, "utf8"), "precious");
  assert.not.ok(lstatSync(path).isSymbolicLink(), "the live log is a symlink");
  assert.match(readFileSync(path, "utf8"), /line 3/);
});

test("a rotation that cannot make the new file moves nothing and writes on to the file open: never to a closed descriptor", async () => {
  const dir = fresh();
  await withTmpfs(dir, "1m", async () => {
    const path = join(dir, "server.log");
    const sink = openLogFile(path, { format, maxBytes: 300, maxFiles: 2, bufferBytes: 1, flushIntervalMs: 10 });
    const victim = join(dir, "victim");
    try {
      sink(record("first"));
      // No inode left: the rotation's new file cannot be made.
      for (let i = 0; ; i++) {
        try {
          closeSync(openSync(join(dir, `inode${i}`), "w"));
        } catch (err) {
          assert.is((err as NodeJS.ErrnoException).code, "ENOSPC");
          break;
        }
        assert.ok(i < 100_000, "the inodes did not run out");
      }
      for (let i = 0; i < 10; i++) sink(record(`line ${i} ${"x".repeat(40)}`)); // past maxBytes
      rmSync(join(dir, "inode0"));
      // Whatever opens now may get the number a closed descriptor had.
      writeFileSync(victim, "precious");
      const fd = openSync(victim, "r+");
      try {
        sink(record("after"));
      } finally {
        closeSync(fd);
      }
      assert.is(readFileSync(victim, "utf8"), "precious");
      const lines = readFileSync(path, "utf8").trimEnd().split("\n");
      assert.is(lines[0], "sfx.test: first");
      assert.is(lines.at(-1), "sfx.test: after");
      assert.is(lines.length, 12, "every line, in the file that was open");
    } finally {
      sink[Symbol.dispose]();
    }
  }, { inodes: 8 });
});

test("a file truncated behind the sink's back (copytruncate) is not rotated at the next write as if it were still full", () => {
  const dir = fresh();
  const path = join(dir, "server.log");
  const sink = openLogFile(path, { format, maxBytes: 200, maxFiles: 2, bufferBytes: 1, flushIntervalMs: 10 });
  try {
    for (let i = 0; i < 4; i++) sink(record(`line ${i} ${"x".repeat(30)}`)); // ~180 bytes
    truncateSync(path, 0);
    sink(record("after the truncation"));
    assert.is(readFileSync(path, "utf8"), "sfx.test: after the truncation\n");
    let rotated = true;
    try {
      readFileSync(`${path}.1`);
    } catch {
      rotated = false;
    }
    assert.not.ok(rotated, "rotated a file just truncated");
  } finally {
    sink[Symbol.dispose]();
  }
});

test("copytruncate after the sink's own rotation: the next line goes at the start of the file, not after a hole of NULs", () => {
  const dir = fresh();
  const path = join(dir, "server.log");
  const sink = openLogFile(path, { format, maxBytes: 200, maxFiles: 2, bufferBytes: 1, flushIntervalMs: 10 });
  try {
    for (let i = 0; i < 8; i++) sink(record(`line ${i} ${"x".repeat(30)}`)); // rotates once, then writes on
    assert.ok(readFileSync(`${path}.1`).length > 0, "rotated");
    assert.ok(readFileSync(path).length > 0);
    truncateSync(path, 0);
    sink(record("after the truncation"));
    assert.is(readFileSync(path, "utf8"), "sfx.test: after the truncation\n");
  } finally {
    sink[Symbol.dispose]();
  }
});

test.run();
