import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSfxError } from "../../src/errors.ts";
import { type Manifest, readManifest, validateManifest, writeManifest } from "../../src/share/manifest.ts";

const dir = mkdtempSync(join(tmpdir(), "sfx-manifest-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const good: Manifest = {
  version: 1,
  files: [{ path: "a/b.txt", size: 3, sha256: "a".repeat(64), blob: "0" }],
  createdAt: 1,
  expiresAt: 2,
  maxDownloads: null,
  downloads: 0,
};

test("writeManifest() then readManifest() round-trips and leaves no temporary file", async () => {
  await writeManifest(dir, good);
  await writeManifest(dir, { ...good, downloads: 5, maxDownloads: 9 });
  assert.equal(await readManifest(dir), { ...good, downloads: 5, maxDownloads: 9 });
  assert.equal(readdirSync(dir), ["manifest.json"]);
});

test("validateManifest() rejects every malformed field with SFX_IO", () => {
  const bad: unknown[] = [
    null,
    "x",
    { ...good, version: 2 },
    { ...good, files: [] },
    { ...good, files: [{ ...good.files[0], path: "../x" }] },
    { ...good, files: [{ ...good.files[0], size: -1 }] },
    { ...good, files: [{ ...good.files[0], size: 1.5 }] },
    { ...good, files: [{ ...good.files[0], sha256: "xyz" }] },
    { ...good, files: [{ ...good.files[0], blob: "../../etc/passwd" }] },
    { ...good, expiresAt: "soon" },
    { ...good, downloads: -1 },
    { ...good, maxDownloads: 0 },
  ];
  for (const m of bad) {
    try {
      validateManifest(m);
      assert.unreachable(JSON.stringify(m));
    } catch (err) {
      assert.ok(isSfxError(err, "SFX_IO"), String(err));
    }
  }
});

test.run();
