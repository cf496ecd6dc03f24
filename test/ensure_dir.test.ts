import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDir, ensureDirSync } from "../src/ensure_dir.ts";

const MODULE = new URL("../src/ensure_dir.ts", import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), "sfx-ensure-dir-"));
test.after(() => rmSync(root, { recursive: true, force: true }));

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

test("both create missing parents with the mode given, and accept a directory that exists", async () => {
  const a = join(root, "a", "b", "c");
  ensureDirSync(a, 0o700);
  assert.ok(statSync(a).isDirectory());
  assert.is(statSync(join(root, "a", "b")).mode & 0o777, 0o700);
  ensureDirSync(a);
  const b = join(root, "x", "y", "z");
  await ensureDir(b, 0o700);
  assert.ok(statSync(b).isDirectory());
  assert.is(statSync(join(root, "x")).mode & 0o777, 0o700);
  await ensureDir(b);
  await ensureDir(root);
});

test("a regular file in the way is ENOTDIR, whether it is the target or a parent", async () => {
  const file = join(root, "file");
  writeFileSync(file, "x");
  for (const target of [file, join(file, "sub")]) {
    try {
      ensureDirSync(target);
      assert.unreachable("sync: should throw");
    } catch (err) {
      assert.is(code(err), "ENOTDIR", String(err));
    }
    try {
      await ensureDir(target);
      assert.unreachable("async: should throw");
    } catch (err) {
      assert.is(code(err), "ENOTDIR", String(err));
    }
  }
  assert.not.ok(existsSync(join(file, "sub")));
});

// Under /proc, mkdir of a child fails with ENOENT although the parent exists:
// Node's recursive mkdir loops on that forever, so each case runs in a child
// process that must finish, with the error, well within its time limit.
test("a parent that exists but refuses children (/proc) is an error, not a hang", () => {
  if (!existsSync("/proc/self")) return; // no procfs: nothing to prove here
  const script = `
    import { ensureDir, ensureDirSync } from ${JSON.stringify(MODULE)};
    const codes = [];
    try { ensureDirSync("/proc/sfx-no-such/dir"); } catch (err) { codes.push(err.code); }
    try { await ensureDir("/proc/sfx-no-such/dir"); } catch (err) { codes.push(err.code); }
    console.log(JSON.stringify(codes));
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 20_000 });
  assert.is(r.signal, null, `killed after 20 s (a hang): ${r.stderr}`);
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout), ["ENOENT", "ENOENT"]);
});

test.run();
