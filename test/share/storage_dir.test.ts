import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSfxError } from "../../src/errors.ts";
import { chooseStorageDir, fallbackStorageDir } from "../../src/share/storage_dir.ts";

const base = mkdtempSync(join(tmpdir(), "sfx-storage-"));
test.after(() => rmSync(base, { recursive: true, force: true }));

test("chooseStorageDir() creates and uses the default when it is usable", () => {
  const dir = join(base, "default", "shares");
  assert.equal(chooseStorageDir(undefined, {}, dir), { dir });
  assert.ok(existsSync(dir));
});

test("chooseStorageDir() falls back to $XDG_STATE_HOME/sfx/shares, saying why, when the default is unusable", () => {
  const blocker = join(base, "file");
  writeFileSync(blocker, "not a directory");
  const state = join(base, "state");
  const choice = chooseStorageDir(undefined, { XDG_STATE_HOME: state }, join(blocker, "shares"));
  assert.is(choice.dir, join(state, "sfx", "shares"));
  assert.match(choice.fellBackBecause!, /not writable \(ENOTDIR\)/);
  assert.ok(existsSync(choice.dir));
});

test("fallbackStorageDir() uses ~/.local/state without (or with a relative) XDG_STATE_HOME", () => {
  assert.is(fallbackStorageDir({ HOME: "/home/u" }), "/home/u/.local/state/sfx/shares");
  assert.is(fallbackStorageDir({ HOME: "/home/u", XDG_STATE_HOME: "rel" }), "/home/u/.local/state/sfx/shares");
});

test("an explicit --storage that cannot be used is SFX_IO naming it, with no fallback", () => {
  const blocker = join(base, "file2");
  writeFileSync(blocker, "x");
  try {
    chooseStorageDir(join(blocker, "s"), { XDG_STATE_HOME: join(base, "st2") });
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_IO"));
    assert.match((err as Error).message, /Cannot use share storage .*file2\/s/);
  }
  assert.not.ok(existsSync(join(base, "st2")));
});

test.run();
