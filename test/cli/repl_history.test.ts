/** The prompt's history file: append, load newest first, private, trimmed. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendHistory, loadHistory } from "../../src/cli/repl/history.ts";

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "sfx-history-"));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("loadHistory() of a missing file is empty", () => {
  withDir((dir) => assert.equal(loadHistory(join(dir, "nope", "h")), []));
});

test("appendHistory() keeps typed commands (not blank ones, nor ones starting with a space) in a private file; loadHistory() gives them newest first", () => {
  withDir((dir) => {
    const file = join(dir, "state", "sfx", "client_history");
    for (const line of ["id", "", "   ", " share get SECRET-CODE", "send 482913 a.txt", "status"]) appendHistory(file, line);
    assert.is(readFileSync(file, "utf8"), "id\nsend 482913 a.txt\nstatus\n");
    assert.is(statSync(file).mode & 0o777, 0o600);
    assert.equal(loadHistory(file), ["status", "send 482913 a.txt", "id"]);
  });
});

test("loadHistory() returns at most `size` lines and trims a file grown past twice that", () => {
  withDir((dir) => {
    const file = join(dir, "h");
    writeFileSync(file, Array.from({ length: 25 }, (_, i) => `cmd ${i}`).join("\n") + "\n");
    const lines = loadHistory(file, 10);
    assert.is(lines.length, 10);
    assert.is(lines[0], "cmd 24");
    assert.is(lines[9], "cmd 15");
    assert.is(readFileSync(file, "utf8").trim().split("\n").length, 10);
  });
});

test("appendHistory() into a directory it cannot create does not throw", () => {
  withDir((dir) => {
    writeFileSync(join(dir, "file"), "x");
    appendHistory(join(dir, "file", "sub", "h"), "id");
  });
});

test.run();
