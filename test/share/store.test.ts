import { test } from "uvu";
import * as assert from "uvu/assert";
import { configure, type LogRecord, reset } from "@logtape/logtape";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { isSfxError } from "../../src/errors.ts";
import { codeKey, generateCode } from "../../src/share/code.ts";
import { ENDED_KEEP_MS, type ShareLimits, storedBytes } from "../../src/share/defaults.ts";
import { type CreatedShare, ShareStore, type UploadRequest } from "../../src/share/store.ts";
import { fillUp, withTmpfs } from "../_tmpfs.ts";
import { rejects } from "../_refused.ts";

const T0 = Date.parse("2026-11-22T08:00:00Z");
const HOUR = 3_600_000;
const CLIENT = "192.0.2.7";

interface Fixture {
  dir: string;
  clock: { t: number };
  open(limits?: Partial<ShareLimits>): Promise<ShareStore>;
  stores: ShareStore[];
}

const fixtures: Fixture[] = [];

function fixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), "sfx-share-"));
  const clock = { t: T0 };
  const f: Fixture = {
    dir,
    clock,
    stores: [],
    async open(limits) {
      const s = await ShareStore.open({ dir, limits, now: () => clock.t, sweepTimer: false });
      f.stores.push(s);
      return s;
    },
  };
  fixtures.push(f);
  return f;
}

test.after.each(async () => {
  for (const f of fixtures.splice(0)) {
    for (const s of f.stores) await s.close();
    rmSync(f.dir, { recursive: true, force: true });
  }
});

function sha(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

async function put(store: ShareStore, files: Record<string, string | Uint8Array>, req: Omit<UploadRequest, "files"> = {}): Promise<CreatedShare> {
  const entries = Object.entries(files);
  const upload = await store.beginUpload({ files: entries.map(([path, d]) => ({ path, size: Buffer.byteLength(d) })), ...req });
  for (let i = 0; i < entries.length; i++) {
    const sink = await upload.file(i);
    const data = Buffer.from(entries[i][1]);
    // several writes, as data-stream messages arrive
    for (let off = 0; off < data.length; off += 7) await sink.write(data.subarray(off, off + 7));
    await sink.end(sha(data));
  }
  return upload.commit();
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

async function download(store: ShareStore, code: string, paths: string[] = [], client = CLIENT): Promise<Record<string, string>> {
  const d = store.beginDownload(code, client, paths);
  const out: Record<string, string> = {};
  for (const f of d.files) out[f.path] = await readAll(await d.read(f.path, 0));
  await d.complete();
  return out;
}


function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(p + "/", ...walk(p));
    else out.push(p);
  }
  return out;
}

test("put → list → download round trip: names, sizes, hashes and bytes equal", async () => {
  const f = fixture();
  const store = await f.open();
  const files = { "a.txt": "hello", "dir/b.bin": "x".repeat(1000), "dir/sub/empty": "" };
  const created = await put(store, files);
  assert.match(created.code, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$/);
  assert.is(created.expiresAt, T0 + 24 * HOUR);
  assert.is(created.warning, undefined);
  const listing = store.list(created.code.toLowerCase(), CLIENT);
  assert.equal(listing.files.map((x) => [x.path, x.size, x.sha256]), Object.entries(files).map(([p, d]) => [p, d.length, sha(d)]));
  assert.equal(await download(store, created.code), files);
  assert.equal(await download(store, created.code, ["dir/b.bin"]), { "dir/b.bin": files["dir/b.bin"] });
});

test("nothing on disk names the code: shares live under a hash of it", async () => {
  const f = fixture();
  const store = await f.open();
  const { code } = await put(store, { "secret-name.txt": "data" });
  const all = walk(f.dir).join("\n") + readFileSync(join(f.dir, "shares", codeKey(code), "manifest.json"), "utf8");
  assert.not.ok(all.includes(code.replace(/-/g, "").slice(0, 8)));
  assert.not.ok(all.includes(code.slice(0, 9)));
  assert.ok(existsSync(join(f.dir, "shares", codeKey(code), "manifest.json")));
  assert.not.ok(walk(f.dir).some((p) => p.includes("secret-name")), "file names only in the manifest");
});

test("read(path, offset) serves the byte range from offset to the end", async () => {
  const f = fixture();
  const store = await f.open();
  const { code } = await put(store, { "f.txt": "0123456789" });
  const d = store.beginDownload(code, CLIENT);
  assert.is(await readAll(await d.read("f.txt", 4)), "456789");
  assert.is(await readAll(await d.read("f.txt", 10)), "");
  await rejects(d.read("f.txt", 11), "SFX_BAD_ARGUMENT", /offset/);
  await rejects(d.read("f.txt", -1), "SFX_BAD_ARGUMENT", /offset/);
  await rejects(d.read("nope", 0), "SFX_BAD_ARGUMENT", /no file/);
  await d.cancel();
});

test("wrong, malformed and expired codes: SFX_SHARE_NOT_FOUND with the same message, SFX_BAD_CODE", async () => {
  const f = fixture();
  const store = await f.open();
  const { code } = await put(store, { "a": "1" }, { expiresInMs: HOUR });
  let wrongMsg = "";
  try {
    store.list(generateCode(), CLIENT);
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_SHARE_NOT_FOUND"));
    wrongMsg = (err as Error).message;
  }
  assert.ok(wrongMsg);
  await rejects(() => store.list("not-a-code", CLIENT), "SFX_BAD_CODE");
  await rejects(() => store.beginDownload("ABCD-EFGH", CLIENT), "SFX_BAD_CODE");
  store.list(code, CLIENT);
  f.clock.t = T0 + HOUR - 1;
  store.list(code, CLIENT);
  f.clock.t = T0 + HOUR; // the expiry instant itself is already too late
  try {
    store.list(code, CLIENT);
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_SHARE_NOT_FOUND"));
    assert.is((err as Error).message, wrongMsg);
  }
  await store.settled();
  assert.is(readdirSync(join(f.dir, "shares")).length, 0, "an expired share found by a lookup is deleted");
});

test("failed lookups are rate-limited per client address with SFX_LIMIT, even for a right code", async () => {
  const f = fixture();
  const store = await f.open({ failedLookupBurst: 3, failedLookupsPerMinute: 6 });
  const { code } = await put(store, { "a": "1" });
  for (let i = 0; i < 3; i++) await rejects(() => store.list(generateCode(), "10.0.0.1"), "SFX_SHARE_NOT_FOUND");
  await rejects(() => store.list(generateCode(), "10.0.0.1"), "SFX_LIMIT", /Too many wrong share codes/);
  await rejects(() => store.list(code, "10.0.0.1"), "SFX_LIMIT");
  store.list(code, "10.0.0.2");
  f.clock.t += 10_000;
  store.list(code, "10.0.0.1");
});

test("sweep() deletes exactly the expired shares and is idempotent", async () => {
  const f = fixture();
  const store = await f.open();
  const short = await put(store, { "a": "1" }, { expiresInMs: HOUR });
  const long = await put(store, { "b": "2" }, { expiresInMs: 3 * HOUR });
  assert.is(await store.sweep(), 0);
  f.clock.t = T0 + HOUR;
  assert.is(await store.sweep(), 1);
  assert.is(await store.sweep(), 0);
  assert.is(store.size, 1);
  assert.equal(readdirSync(join(f.dir, "shares")), [codeKey(long.code)]);
  await rejects(() => store.list(short.code, CLIENT), "SFX_SHARE_NOT_FOUND");
  store.list(long.code, CLIENT);
  f.clock.t = T0 + 3 * HOUR;
  assert.is(await store.sweep(), 1);
  assert.is(readdirSync(join(f.dir, "shares")).length, 0);
  assert.is(readdirSync(join(f.dir, "trash")).length, 0);
  assert.is(store.usedBytes, 0);
});

test("an absolute expiry is kept; a longer one than the maximum is shortened with a warning", async () => {
  const f = fixture();
  const store = await f.open({ maxExpiryMs: 48 * HOUR });
  const abs = await put(store, { "a": "1" }, { expiresAt: T0 + 5 * HOUR });
  assert.is(abs.expiresAt, T0 + 5 * HOUR);
  const rel = await put(store, { "a": "1" }, { expiresInMs: 30 * 86_400_000 });
  assert.is(rel.expiresAt, T0 + 48 * HOUR);
  assert.match(rel.warning!, /shortened to 2d.*asked for 30d/);
  const far = await put(store, { "a": "1" }, { expiresAt: T0 + 1000 * HOUR });
  assert.is(far.expiresAt, T0 + 48 * HOUR);
  assert.match(far.warning!, /shortened to 2d/);
  await rejects(store.beginUpload({ files: [{ path: "a", size: 1 }], expiresAt: T0 - 1 }), "SFX_BAD_ARGUMENT", /not in the future/);
  await rejects(store.beginUpload({ files: [{ path: "a", size: 1 }], expiresInMs: 0 }), "SFX_BAD_ARGUMENT", /expiry/);
});

test("the expiry counts from the moment the upload is committed", async () => {
  const f = fixture();
  const store = await f.open();
  const upload = await store.beginUpload({ files: [{ path: "a", size: 1 }], expiresInMs: HOUR });
  const sink = await upload.file(0);
  await sink.write(Buffer.from("z"));
  await sink.end(sha("z"));
  f.clock.t = T0 + 10 * 60_000;
  const created = await upload.commit();
  assert.is(created.createdAt, T0 + 10 * 60_000);
  assert.is(created.expiresAt, T0 + 10 * 60_000 + HOUR);
});

test("max-downloads counts completed downloads only, then deletes the share", async () => {
  const f = fixture();
  const store = await f.open();
  const { code } = await put(store, { "a": "aaa", "b": "bbb" }, { maxDownloads: 2 });
  // an interrupted download does not count
  const d0 = store.beginDownload(code, CLIENT);
  await readAll(await d0.read("a", 0));
  await d0.cancel();
  assert.is(store.list(code, CLIENT).downloads, 0);
  await download(store, code, ["a"]);
  assert.is(store.list(code, CLIENT).downloads, 1);
  // while one download is in progress, the last remaining download is reserved
  const d2 = store.beginDownload(code, CLIENT);
  await rejects(() => store.beginDownload(code, CLIENT), "SFX_LIMIT", /in progress/);
  assert.is(await readAll(await d2.read("b", 0)), "bbb");
  await d2.complete();
  await d2.complete(); // counted once
  await store.settled();
  await rejects(() => store.list(code, CLIENT), "SFX_SHARE_NOT_FOUND");
  assert.is(readdirSync(join(f.dir, "shares")).length, 0);
});

test("the download count survives a restart", async () => {
  const f = fixture();
  const store = await f.open();
  const { code } = await put(store, { "a": "1" }, { maxDownloads: 3 });
  await download(store, code);
  await store.close();
  const again = await f.open();
  assert.is(again.list(code, CLIENT).downloads, 1);
  assert.is(again.list(code, CLIENT).maxDownloads, 3);
});

test("a download counted while the store's disk is full is saved once there is room again (a restart does not forget it), and a limited share takes no download meanwhile", async () => {
  const f = fixture();
  await withTmpfs(f.dir, "1m", async () => {
    const store = await f.open();
    const { code } = await put(store, { "a": "1" }, { maxDownloads: 3 });
    const filler = fillUp(f.dir);
    await download(store, code);
    assert.is(store.list(code, CLIENT).downloads, 1);
    // The error's code, not its message: that names the server's paths.
    await rejects(() => store.beginDownload(code, CLIENT), "SFX_IO", /^The server cannot record this share's downloads right now \(ENOSPC\): try again later$/);
    rmSync(filler);
    // What a share get does before it begins (the next sweep would too).
    await store.saveCountOf(code);
    await download(store, code);
    await store.close();
    const again = await f.open();
    assert.is(again.list(code, CLIENT).downloads, 2);
    await again.close();
  });
});

test("one address keeps at most a quarter of the store's shares and of its quota, uploads in progress counted (one client filled the store for the week its shares last); others are not held back", async () => {
  const f = fixture();
  const store = await f.open({ maxShares: 8, maxStoreBytes: 1024 * 1024, maxShareBytes: 1024 });
  const a = { owner: "10.0.0.1" };
  await put(store, { "x": "1" }, a);
  const inProgress = await store.beginUpload({ files: [{ path: "y", size: 1 }], ...a });
  await rejects(put(store, { "z": "1" }, a), "SFX_LIMIT", /^10\.0\.0\.1 keeps 2 shares on this server \(uploads in progress included\), the most one address may/);
  await put(store, { "z": "1" }, { owner: "10.0.0.2" });
  await inProgress.abort();
  await put(store, { "z": "1" }, a);
  await store.close();
  // Bytes: a quarter of a 64 KiB quota is 16 KiB; a share of one file counts 12 KiB (8 KiB for the share, 4 a file).
  const small = await f.open({ maxShares: 100, maxStoreBytes: 64 * 1024, maxShareBytes: 1024 });
  // After a restart nobody owns the shares from before: the address starts afresh.
  await put(small, { "a": "1" }, a);
  await rejects(put(small, { "b": "1" }, a), "SFX_LIMIT", /^10\.0\.0\.1 keeps shares counting 12\.0 KiB on this server \(uploads in progress included\); this one's 12\.0 KiB would pass the 16\.0 KiB one address may keep/);
  await put(small, { "b": "1" }, { owner: "10.0.0.2" });
  // An IPv6 /64, whose addresses one host may step through: half the store at the most.
  const v6 = await fixture().open({ maxShares: 8, maxStoreBytes: 1024 * 1024, maxShareBytes: 1024 });
  const network = "2001:db8:0:1::/64";
  for (let i = 1; i <= 4; i++) await put(v6, { "x": "1" }, { owner: `2001:db8:0:1::${i}`, network });
  await rejects(put(v6, { "x": "1" }, { owner: "2001:db8:0:1::5", network }), "SFX_LIMIT", /^2001:db8:0:1::\/64 keeps 4 shares on this server \(uploads in progress included\), the most one IPv6 \/64 network may/);
  await put(v6, { "x": "1" }, { owner: "2001:db8:0:2::1", network: "2001:db8:0:2::/64" });
});

test("an upload with more files than the store's disk has inodes left is refused up front, uploads in progress counted (empty files filled a small disk's inodes at no cost to the quota)", async () => {
  const f = fixture();
  await withTmpfs(f.dir, "4m", async () => {
    const store = await f.open();
    const free = (await import("node:fs/promises")).statfs;
    const left = (await free(f.dir)).ffree;
    const files = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `f${i}`, size: 0 }));
    await rejects(store.beginUpload({ files: files(left) }), "SFX_LIMIT", new RegExp(`^The server's disk has room for ${left} more files \\(inodes\\), not ${left + 3}$`));
    const half = await store.beginUpload({ files: files(Math.floor(left / 2)) });
    await rejects(store.beginUpload({ files: files(Math.floor(left / 2)) }), "SFX_LIMIT", /more files \(inodes\)/);
    await half.abort();
    await store.close();
  }, { inodes: 60 });
});

test("a store that cannot be written fails an upload with SFX_IO saying the kind, not the server's paths, and leaves none of it behind", async () => {
  const f = fixture();
  const store = await f.open();
  const uploads = join(f.dir, "uploads");
  if (spawnSync("chattr", ["+i", uploads]).status !== 0) return console.warn("SKIPPED: chattr +i is not supported here");
  try {
    await rejects(store.beginUpload({ files: [{ path: "a", size: 1 }] }), "SFX_IO", /^Cannot store an upload: the server's store could not be written \(EPERM\)$/);
  } finally {
    spawnSync("chattr", ["-i", uploads]);
  }
  assert.equal(readdirSync(uploads), []);
  // A file of an upload that cannot be made: as the upload's, not an internal error.
  const u = await store.beginUpload({ files: [{ path: "a", size: 1 }] });
  const files = join(uploads, readdirSync(uploads)[0], "files");
  spawnSync("chattr", ["+i", files]);
  try {
    await rejects(u.file(0), "SFX_IO", /^Cannot store an uploaded file: the server's store could not be written \(EPERM\)$/);
  } finally {
    spawnSync("chattr", ["-i", files]);
  }
  await u.abort();
  assert.equal(readdirSync(uploads), []);
});

test("a share that expires while a download reads it stays readable for that download, then goes", async () => {
  const f = fixture();
  const store = await f.open();
  const { code } = await put(store, { "a": "first", "b": "second" }, { expiresInMs: HOUR });
  const d = store.beginDownload(code, CLIENT);
  assert.is(await readAll(await d.read("a", 0)), "first");
  f.clock.t = T0 + HOUR;
  assert.is(await store.sweep(), 1);
  await rejects(() => store.list(code, CLIENT), "SFX_SHARE_NOT_FOUND");
  // Its bytes are still on disk: they count against the quota until removed, each file in whole blocks.
  assert.is(store.usedBytes, storedBytes([5, 6]));
  assert.is(storedBytes([5, 6]), 8192 + 2 * 4096);
  assert.is(await readAll(await d.read("b", 0)), "second");
  await d.complete();
  await store.settled();
  assert.is(readdirSync(join(f.dir, "shares")).length, 0);
  assert.is(store.usedBytes, 0);
});

test("every limit is refused with SFX_LIMIT naming it; the quota counts each file in whole 4 KiB blocks and 8 KiB a share", async () => {
  const f = fixture();
  const store = await f.open({ maxFilesPerShare: 2, maxShareBytes: 100_000, maxStoreBytes: 150_000, maxUploadsInProgress: 2 });
  await rejects(store.beginUpload({ files: [{ path: "a", size: 1 }, { path: "b", size: 1 }, { path: "c", size: 1 }] }), "SFX_LIMIT", /Too many files.*3.*allows 2/);
  await rejects(store.beginUpload({ files: [{ path: "a", size: 100_001 }] }), "SFX_LIMIT", /too large: 97\.7 KiB, the server allows 97\.7 KiB per share/);
  // Within the per-share bytes, but 30 files' blocks and the share's 8 KiB count more than the whole quota: too large, not "full".
  const manyFiles = await fixture().open({ maxShareBytes: 100_000, maxStoreBytes: 100_000 });
  await rejects(manyFiles.beginUpload({ files: Array.from({ length: 30 }, (_, i) => ({ path: `f${i}`, size: 10 })) }), "SFX_LIMIT", /^Share too large for this server's store: it counts 128 KiB \(each file in whole 4 KiB blocks, and 8 KiB for the share\), more than the whole 97\.7 KiB quota$/);

  await put(store, { "a": "x".repeat(100_000) }); // 25 blocks and the share's 8 KiB: 108 KiB
  await rejects(store.beginUpload({ files: [{ path: "a", size: 32 * 1024 }] }), "SFX_LIMIT", /store is full: this share counts 40\.0 KiB \(its files in whole 4 KiB blocks, and 8 KiB for the share\), and 38\.5 KiB of its 146 KiB quota is free \(the rest held by shares and uploads in progress\)/);
  const u1 = await store.beginUpload({ files: [{ path: "a", size: 10 }] });
  const u2 = await store.beginUpload({ files: [{ path: "a", size: 10 }] });
  await rejects(store.beginUpload({ files: [{ path: "a", size: 1 }] }), "SFX_LIMIT", /2 uploads already/);
  await u1.abort();
  // uploads in progress reserve their blocks against the quota
  await rejects(store.beginUpload({ files: [{ path: "a", size: 20 * 1024 }] }), "SFX_LIMIT", /quota/);
  await u2.abort();
  await store.beginUpload({ files: [{ path: "a", size: 20 * 1024 }] });
  await rejects(store.beginUpload({ files: [{ path: "a", size: 1 }], maxDownloads: 0 }), "SFX_BAD_ARGUMENT", /max downloads/);
  await rejects(store.beginUpload({ files: [] }), "SFX_BAD_ARGUMENT", /at least one file/);
  await rejects(store.beginUpload({ files: [{ path: "a", size: -1 }] }), "SFX_BAD_ARGUMENT", /size/);
});

test("shares of empty files cost the quota their blocks, and the store keeps at most maxShares, uploads in progress included", async () => {
  const f = fixture();
  const store = await f.open({ maxShares: 3, maxStoreBytes: 1 << 30 });
  const empties = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`e${i}`, ""]));
  await put(store, empties);
  assert.is(store.usedBytes, 8192 + 10 * 4096, "ten empty files take ten blocks' worth, not 0");
  await put(store, { "one": "1" });
  const upload = await store.beginUpload({ files: [{ path: "x", size: 0 }] });
  await rejects(store.beginUpload({ files: [{ path: "y", size: 0 }] }), "SFX_LIMIT", /holds 3 shares, the most it keeps/);
  await upload.abort();
  await put(store, { "two": "2" });
  assert.is(store.size, 3);
});

test("at start the store logs its files' bytes and what they count against the quota, and warns when that is over the quota (a store filled under a larger one)", async () => {
  const records: LogRecord[] = [];
  await configure({ reset: true, sinks: { mem: (r) => records.push(r) }, loggers: [{ category: ["sfx"], lowestLevel: "info", sinks: ["mem"] }] });
  try {
    const f = fixture();
    const store = await f.open();
    await put(store, { "a": "123", "b": "" });
    // One that expires while the server is down: deleted at the start, and not in its count.
    await put(store, { "gone": "12345" }, { expiresInMs: HOUR });
    await store.close();
    f.clock.t += 2 * HOUR;
    await f.open({ maxStoreBytes: 10_000 });
    const text = records.map((r) => r.message.join(""));
    assert.is(storedBytes([3, 0]), 16384);
    const summary = text.findIndex((t) => t.includes("1 share(s), 3 B of files, 16.0 KiB counted against its 9.8 KiB quota"));
    assert.ok(summary >= 0, text.join("\n"));
    assert.ok(text.slice(0, summary).some((t) => /deleted: expired/.test(t)), `the expired share goes first: ${text.join("\n")}`);
    assert.ok(text.some((t) => /holds more than its quota \(16\.0 KiB counted, 9\.8 KiB allowed\): new shares are refused until enough expire/.test(t)), text.join("\n"));
  } finally {
    await reset();
  }
});

test("hostile file names in an upload are refused with SFX_BAD_ARGUMENT and leave nothing behind", async () => {
  const f = fixture();
  const store = await f.open();
  for (const path of ["../x", "/etc/passwd", "a/../../b", "evil\u001b[2J", "a\\b", "a//b", "dup", ""]) {
    const files = path === "dup" ? [{ path, size: 1 }, { path: "DUP", size: 1 }] : [{ path, size: 1 }];
    await rejects(store.beginUpload({ files }), "SFX_BAD_ARGUMENT", /Invalid file name/);
  }
  assert.is(readdirSync(join(f.dir, "uploads")).length, 0);
  assert.is(store.uploadsInProgress, 0);
});

test("a file's bytes are verified: too many, too few, or a wrong SHA-256 fail and nothing is published", async () => {
  const f = fixture();
  const store = await f.open();
  const u = await store.beginUpload({ files: [{ path: "a", size: 3 }, { path: "b", size: 3 }, { path: "c", size: 3 }] });
  const a = await u.file(0);
  await rejects(a.write(Buffer.from("abcd")), "SFX_PROTOCOL", /longer than the 3 bytes/);
  const b = await u.file(1);
  await b.write(Buffer.from("ab"));
  await rejects(b.end(sha("ab")), "SFX_TRANSFER_FAILED", /after 2 of 3 bytes/);
  const c = await u.file(2);
  await c.write(Buffer.from("abc"));
  await rejects(c.end(sha("abd")), "SFX_INTEGRITY");
  await rejects(u.file(2), "SFX_PROTOCOL", /already opened/);
  await rejects(u.commit(), "SFX_TRANSFER_FAILED", /incomplete: a/);
  await u.abort();
  assert.is(store.size, 0);
  assert.is(readdirSync(join(f.dir, "uploads")).length, 0);
  assert.is(readdirSync(join(f.dir, "shares")).length, 0);
});

test("an upload is invisible until committed, and commit needs every file", async () => {
  const f = fixture();
  const store = await f.open();
  const u = await store.beginUpload({ files: [{ path: "a", size: 1 }, { path: "b", size: 1 }] });
  const a = await u.file(0);
  await a.write(Buffer.from("1"));
  await a.end(sha("1"));
  assert.is(readdirSync(join(f.dir, "shares")).length, 0);
  await rejects(u.commit(), "SFX_TRANSFER_FAILED", /b was not received/);
  const b = await u.file(1);
  await b.write(Buffer.from("2"));
  await b.end(sha("2"));
  const { code } = await u.commit();
  assert.is(readdirSync(join(f.dir, "shares")).length, 1);
  assert.is(readdirSync(join(f.dir, "uploads")).length, 0);
  assert.equal(await download(store, code), { a: "1", b: "2" });
});

test("an upload abandoned while commit() publishes it (Ctrl-C at its last byte, the client gone) is withdrawn: no share nobody has the code of holds the quota", async () => {
  const f = fixture();
  const store = await f.open();
  const u = await store.beginUpload({ files: [{ path: "a", size: 3 }] });
  const a = await u.file(0);
  await a.write(Buffer.from("abc"));
  await a.end(sha("abc"));
  const committing = u.commit();
  await u.abort("client disconnected"); // as the service does when the client leaves meanwhile
  await rejects(committing, "SFX_CANCELLED", /abandoned: client disconnected/);
  assert.is(store.size, 0, "no share left");
  await store.close();
  assert.equal(readdirSync(join(f.dir, "shares")), [], "its files removed");
  assert.equal(readdirSync(join(f.dir, "uploads")), []);
  // Reopened, nothing is counted.
  const again = await f.open();
  assert.is(again.usedBytes, 0);
});

test("an upload abandoned while its files are being opened leaves no file open on the removed upload", async () => {
  const f = fixture();
  const store = await f.open();
  const openDeleted = () => readdirSync("/proc/self/fd").filter((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(f.dir) && target.endsWith("(deleted)");
    } catch {
      return false;
    }
  }).length;
  for (let round = 0; round < 20; round++) {
    const u = await store.beginUpload({ files: [{ path: "a", size: 1 }, { path: "b", size: 1 }] });
    // The cancel arrives while file() waits for its open.
    const opening = [u.file(0), u.file(1)].map((p) => p.then(() => "opened", (err) => (isSfxError(err) ? err.code : String(err))));
    await u.abort("cancelled");
    const outcomes = await Promise.all(opening);
    assert.ok(outcomes.every((o) => o === "SFX_CANCELLED" || o === "opened"), outcomes.join(", "));
  }
  assert.is(openDeleted(), 0, "descriptors open on deleted upload files");
  assert.equal(readdirSync(join(f.dir, "uploads")), []);
});

test("a restart keeps shares with their expiries and sweeps those that expired meanwhile", async () => {
  const f = fixture();
  const store = await f.open();
  const keep = await put(store, { "k/1": "one", "k/2": "two" }, { expiresInMs: 5 * HOUR });
  const gone = await put(store, { "g": "x" }, { expiresInMs: HOUR });
  await store.close();
  f.clock.t = T0 + 2 * HOUR;
  const again = await f.open();
  assert.is(again.size, 1);
  const listing = again.list(keep.code, CLIENT);
  assert.is(listing.expiresAt, T0 + 5 * HOUR);
  assert.is(listing.createdAt, T0);
  assert.equal(await download(again, keep.code), { "k/1": "one", "k/2": "two" });
  await rejects(() => again.list(gone.code, CLIENT), "SFX_SHARE_NOT_FOUND");
  assert.is(again.usedBytes, storedBytes([3, 3]));
});

test("a crash mid-upload leaves no share, and its temporary files are removed at the next start", async () => {
  const f = fixture();
  const store = await f.open();
  const u = await store.beginUpload({ files: [{ path: "a", size: 10 }] });
  const sink = await u.file(0);
  await sink.write(Buffer.from("12345"));
  // The "crash": the process dies without abort(). One process cannot open a store twice, so the
  // upload's files are copied, the store closed (which removes them) and the copy put back.
  const leftovers = readdirSync(join(f.dir, "uploads"));
  assert.is(leftovers.length, 1);
  const copy = join(f.dir, "..", `${leftovers[0]}-copy`);
  cpSync(join(f.dir, "uploads", leftovers[0]), copy, { recursive: true });
  await sink.discard();
  await store.close();
  assert.is(readdirSync(join(f.dir, "uploads")).length, 0);
  renameSync(copy, join(f.dir, "uploads", leftovers[0]));
  mkdirSync(join(f.dir, "trash", "half-deleted", "files"), { recursive: true });
  writeFileSync(join(f.dir, "trash", "half-deleted", "files", "0"), "old");
  const key = codeKey(generateCode());
  mkdirSync(join(f.dir, "shares", key, "files"), { recursive: true }); // no manifest: damaged, set aside
  const again = await f.open();
  assert.is(again.size, 0);
  assert.is(readdirSync(join(f.dir, "uploads")).length, 0);
  assert.is(readdirSync(join(f.dir, "trash")).length, 0);
  assert.is(readdirSync(join(f.dir, "shares")).length, 0);
  assert.is(readdirSync(join(f.dir, "corrupt")).length, 1);
});

test("one store, one holder: a second open (in this process too) is refused until the first closes; a lock whose process is gone is taken over", async () => {
  const f = fixture();
  const store = await f.open();
  await rejects(() => f.open(), "SFX_ALREADY_RUNNING");
  await store.close();
  const again = await f.open();
  await again.close();
  // Left by a server killed with -9: its process is gone.
  const dead = spawnSync("true").pid!;
  writeFileSync(join(f.dir, "server.lock"), `${dead} 0123456789abcdef ${hostname()}\n`);
  const third = await f.open();
  assert.match(readFileSync(join(f.dir, "server.lock"), "utf8"), new RegExp(`^${process.pid} `));
  await third.close();
  assert.not.ok(existsSync(join(f.dir, "server.lock")), "released");
  // Another host's (a volume shared between machines), touched lately: its process cannot be asked.
  const lock = join(f.dir, "server.lock");
  writeFileSync(lock, `1 0123456789abcdef other-host\n`);
  await rejects(() => f.open(), "SFX_ALREADY_RUNNING", /in use by another server \(pid 1 on other-host\): give each server its own --storage \(if none runs, delete .*server\.lock\)/);
  // This host's, naming a live process (pid 1 here): held, even untouched for 11 minutes (a process
  // stopped with Ctrl-Z cannot touch it, and keeps what it holds).
  writeFileSync(lock, `1 0123456789abcdef ${hostname()}\n`);
  const old = (Date.now() - 11 * 60_000) / 1000;
  utimesSync(lock, old, old);
  await rejects(() => f.open(), "SFX_ALREADY_RUNNING");
  rmSync(lock);
  // A directory in its place is nobody's lock, and not ours to remove.
  mkdirSync(lock);
  await rejects(() => f.open(), "SFX_IO", /server\.lock is a directory, not a lock file: remove it/);
  assert.equal(readdirSync(f.dir).filter((n) => n.startsWith("server.lock")), ["server.lock"]);
});

test("a share whose manifest cannot be read is not served, and never deleted: a damaged one (not JSON; a FIFO, which must not hang the start) is moved to corrupt/, one the file system will not read stays in place; the store opens all the same", async () => {
  const f = fixture();
  const store = await f.open();
  const bad = await put(store, { "a": "1" });
  const fifo = await put(store, { "c": "3" });
  const good = await put(store, { "b": "2" });
  await store.close();
  writeFileSync(join(f.dir, "shares", codeKey(bad.code), "manifest.json"), "{\"version\":1,\"files\":[{\"path\":\"../x\"");
  const fifoManifest = join(f.dir, "shares", codeKey(fifo.code), "manifest.json");
  rmSync(fifoManifest);
  assert.is(spawnSync("mkfifo", [fifoManifest]).status, 0);
  // A share that is a link to a directory elsewhere (its files would be served from there), and a file named like a share.
  const elsewhere = mkdtempSync(join(tmpdir(), "sfx-share-elsewhere-"));
  cpSync(join(f.dir, "shares", codeKey(good.code)), join(elsewhere, "share"), { recursive: true });
  const linked = codeKey(generateCode());
  symlinkSync(join(elsewhere, "share"), join(f.dir, "shares", linked));
  const plain = codeKey(generateCode());
  writeFileSync(join(f.dir, "shares", plain), "not a share");
  const records: LogRecord[] = [];
  await configure({ reset: true, sinks: { mem: (r) => records.push(r) }, loggers: [{ category: ["sfx"], lowestLevel: "error", sinks: ["mem"] }] });
  let again: ShareStore;
  try {
    again = await f.open();
  } finally {
    await reset();
  }
  assert.is(again.size, 1);
  again.list(good.code, CLIENT);
  await rejects(() => again.list(bad.code, CLIENT), "SFX_SHARE_NOT_FOUND");
  await rejects(() => again.list(fifo.code, CLIENT), "SFX_SHARE_NOT_FOUND");
  const aside = readdirSync(join(f.dir, "corrupt")).sort();
  assert.equal(aside.map((a) => a.slice(0, 64)).sort(), [codeKey(bad.code), codeKey(fifo.code), linked, plain].sort());
  assert.ok(existsSync(join(elsewhere, "share", "manifest.json")), "what the link pointed to is untouched");
  rmSync(elsewhere, { recursive: true, force: true });
  const badAside = aside.find((a) => a.startsWith(codeKey(bad.code)))!;
  assert.is(readFileSync(join(f.dir, "corrupt", badAside, "files", "0"), "utf8"), "1", "its files kept");
  assert.equal(records.map((r) => r.message.join("")).map((m) => m.replace(/[0-9a-f]{12}/, "K").replace(/moved to \S+ and/, "moved to X and")).sort(), [
    "Share K is damaged (Corrupt share manifest: not JSON): moved to X and not served; delete it there once looked at",
    "Share K is damaged (Corrupt share manifest: not a regular file): moved to X and not served; delete it there once looked at",
    "Share K is damaged (Corrupt share: a symbolic link): moved to X and not served; delete it there once looked at",
    "Share K is damaged (Corrupt share: not a directory): moved to X and not served; delete it there once looked at",
  ]);
  await again.close();
});

test("a share whose manifest the server may not read (restored under another owner: EACCES) stays in place, unserved, and is served once readable and the server restarted", async () => {
  if (process.getuid?.() !== 0) return console.warn("SKIP: needs root to open the store as another user");
  const f = fixture();
  const store = await f.open();
  const theirs = await put(store, { "c": "3" });
  const good = await put(store, { "b": "2" });
  await store.close();
  // The store is nobody's, as a server running as nobody has it; one manifest root's own, private.
  spawnSync("chown", ["-R", "65534:65534", f.dir]);
  const manifest = join(f.dir, "shares", codeKey(theirs.code), "manifest.json");
  spawnSync("chown", ["0:0", manifest]);
  spawnSync("chmod", ["600", manifest]);
  const script = `
    import { ShareStore } from ${JSON.stringify(new URL("../../src/share/store.ts", import.meta.url).href)};
    const store = await ShareStore.open({ dir: process.argv[1], sweepTimer: false, now: () => ${T0} });
    const seen = (code) => { try { store.list(code, "192.0.2.7"); return true; } catch { return false; } };
    console.log(JSON.stringify({ size: store.size, good: seen(process.argv[2]), theirs: seen(process.argv[3]) }));
    await store.close();`;
  const run = () => spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--input-type=module", "-e", script, f.dir, good.code, theirs.code], { encoding: "utf8" });
  const first = run();
  assert.equal(JSON.parse(first.stdout), { size: 1, good: true, theirs: false }, first.stderr);
  assert.ok(existsSync(manifest), "left where it was");
  assert.not.ok(existsSync(join(f.dir, "corrupt")), "not taken for damaged");
  spawnSync("chown", ["65534:65534", manifest]);
  const second = run();
  assert.equal(JSON.parse(second.stdout), { size: 2, good: true, theirs: true }, second.stderr);
});

test("a --storage that is a symbolic link to a directory (a data disk) is the store it leads to", async () => {
  const f = fixture();
  const real = join(f.dir, "data");
  mkdirSync(real);
  const link = join(f.dir, "shares-link");
  symlinkSync(real, link);
  const store = await ShareStore.open({ dir: link, sweepTimer: false });
  try {
    const { code } = await put(store, { "a": "1" });
    assert.is(store.list(code, CLIENT).files.length, 1);
  } finally {
    await store.close();
  }
  assert.ok(readdirSync(real).includes("shares"), readdirSync(real).join(", "));
});

test("a --storage that is not a store is refused and left untouched: a folder with other things in it (its uploads/ and trash/ were emptied), a store part that is a link; an older store without the marker is taken and marked", async () => {
  const docs = mkdtempSync(join(tmpdir(), "sfx-docs-"));
  const precious = mkdtempSync(join(tmpdir(), "sfx-precious-"));
  const linked = mkdtempSync(join(tmpdir(), "sfx-linked-store-"));
  const old = mkdtempSync(join(tmpdir(), "sfx-old-store-"));
  const apps: string[] = [];
  try {
    // A user's folder given by mistake.
    mkdirSync(join(docs, "uploads", "2024"), { recursive: true });
    writeFileSync(join(docs, "uploads", "2024", "invoice.pdf"), "keep me");
    writeFileSync(join(docs, "notes.txt"), "mine");
    await rejects(() => ShareStore.open({ dir: docs, sweepTimer: false }), "SFX_IO", /is not one \(no \.sfx-share-store\) and holds other things \("notes\.txt"\)/);
    assert.is(readFileSync(join(docs, "uploads", "2024", "invoice.pdf"), "utf8"), "keep me");
    assert.equal(readdirSync(docs).sort(), ["notes.txt", "uploads"], "nothing written there either");
    // A store whose uploads/ is a link to another folder.
    writeFileSync(join(precious, "precious.txt"), "keep me too");
    symlinkSync(precious, join(linked, "uploads"));
    await rejects(() => ShareStore.open({ dir: linked, sweepTimer: false }), "SFX_IO", /its uploads is a symbolic link/);
    assert.is(readFileSync(join(precious, "precious.txt"), "utf8"), "keep me too");
    // A folder whose only entries are named as a store's are, with other things inside them (an
    // app's uploads/, a trash/, shares/): refused, and nothing in them removed or written.
    for (const [sub, file] of [["uploads", "photos/wedding.jpg"], ["trash", "keep.txt"], ["shares", "x"], ["corrupt", "y"]]) {
      const app = mkdtempSync(join(tmpdir(), "sfx-app-"));
      apps.push(app);
      mkdirSync(join(app, sub, file, ".."), { recursive: true });
      writeFileSync(join(app, sub, file), "keep me");
      if (sub !== "uploads") mkdirSync(join(app, "uploads", "0123456789abcdef01234567"), { recursive: true }); // and one of sfx's own
      const first = file.split("/")[0];
      await rejects(() => ShareStore.open({ dir: app, sweepTimer: false }), "SFX_IO", new RegExp(`is not one \\(no \\.sfx-share-store\\) and holds other things \\("${sub}/${first}"\\)`));
      assert.is(readFileSync(join(app, sub, file), "utf8"), "keep me", `${sub}/${file} kept`);
      assert.not.ok(existsSync(join(app, ".sfx-share-store")), "not marked");
      if (sub !== "uploads") assert.ok(existsSync(join(app, "uploads", "0123456789abcdef01234567")), "nothing removed");
    }
    // An older sfx's store: its own entries only, no marker. Taken, and marked; what its last run left is removed.
    for (const sub of ["shares", "uploads", "trash"]) mkdirSync(join(old, sub));
    mkdirSync(join(old, "uploads", "0123456789abcdef01234567"));
    mkdirSync(join(old, "trash", "fedcba9876543210fedcba98"));
    const store = await ShareStore.open({ dir: old, sweepTimer: false });
    await store.close();
    assert.ok(existsSync(join(old, ".sfx-share-store")));
    assert.equal([readdirSync(join(old, "uploads")), readdirSync(join(old, "trash"))], [[], []]);
  } finally {
    for (const d of [docs, precious, linked, old, ...apps]) rmSync(d, { recursive: true, force: true });
  }
});

test("close() abandons uploads in progress and is idempotent; a closed store refuses work", async () => {
  const f = fixture();
  const store = await f.open();
  const u = await store.beginUpload({ files: [{ path: "a", size: 2 }] });
  await (await u.file(0)).write(Buffer.from("1"));
  await store.close();
  await store.close();
  assert.is(readdirSync(join(f.dir, "uploads")).length, 0);
  await rejects(store.beginUpload({ files: [{ path: "a", size: 1 }] }), "SFX_INTERNAL", /closed/);
});

test("close() waits for an upload's abort already under way: nothing of it is left when close() resolves (a test that did not await its abort left the store's folder behind)", async () => {
  const f = fixture();
  const store = await f.open();
  const u = await store.beginUpload({ files: [{ path: "a", size: 2 }] });
  await (await u.file(0)).write(Buffer.from("1"));
  const aborting = u.abort("the client left");
  await store.close();
  assert.equal(readdirSync(join(f.dir, "uploads")), [], "its folder is gone by then");
  assert.is(store.uploadsInProgress, 0);
  await aborting;
  assert.is(await u.abort("again"), undefined, "a repeated abort resolves");
});

test("the sweep timer deletes expired shares on its own and does not keep the process alive", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sfx-share-"));
  const clock = { t: T0 };
  const store = await ShareStore.open({ dir, now: () => clock.t, limits: { sweepIntervalMs: 20 } });
  try {
    await put(store, { "a": "1" }, { expiresInMs: HOUR });
    clock.t += HOUR;
    const deadline = Date.now() + 5000;
    while (readdirSync(join(dir, "shares")).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(readdirSync(join(dir, "shares")).length, 0);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a lookup serves one share: refused while an upload under it runs, while its share lives, and for 90 days after it ends, across a restart; then free again", async () => {
  const f = fixture();
  let store = await f.open();
  const lookup = "ab".repeat(32);
  const request = { files: [{ path: "0", size: 1 }], lookup };
  const first = await store.beginUpload(request);
  // Seen on the way and taken first, it would fail its owner's upload at the end: the later one is refused.
  await rejects(store.beginUpload(request), "SFX_BAD_CODE", /^A share has had this code already: a code serves one share only$/);
  const sink = await first.file(0);
  await sink.write(Buffer.from("x"));
  await sink.end(sha("x"));
  const created = await first.commit("AAAA");
  assert.is(created.code, lookup);
  await rejects(store.beginUpload(request), "SFX_BAD_CODE", /had this code already/);
  f.clock.t = created.expiresAt;
  await store.sweep();
  assert.is(store.size, 0);
  // Gone, its code cannot be given new files by whoever was given it.
  await rejects(store.beginUpload(request), "SFX_BAD_CODE", /had this code already/);
  await store.close();
  store = await f.open();
  await rejects(store.beginUpload(request), "SFX_BAD_CODE", /had this code already/);
  assert.match(readFileSync(join(f.dir, "ended.log"), "utf8"), new RegExp(`^${codeKey(lookup)} ${created.expiresAt + ENDED_KEEP_MS}\n$`));
  f.clock.t = created.expiresAt + ENDED_KEEP_MS;
  await store.sweep();
  const again = await store.beginUpload(request);
  await again.abort("test");
  // The next start rewrites the log without what has passed.
  await store.close();
  store = await f.open();
  assert.is(readFileSync(join(f.dir, "ended.log"), "utf8"), "");
  // A share in the clear leaves no mark: its code was the server's to choose.
  const plain = await put(store, { a: "A" }, { maxDownloads: 1 });
  await download(store, plain.code);
  await store.settled();
  assert.is(store.size, 0);
  assert.is(readFileSync(join(f.dir, "ended.log"), "utf8"), "");
});

test("ended.log cut short by a crash, or holding lines that are not its own, is read for what it holds and rewritten whole", async () => {
  const f = fixture();
  const kept = "cd".repeat(32);
  const until = T0 + ENDED_KEEP_MS;
  writeFileSync(join(f.dir, "ended.log"), `${codeKey(kept)} ${until}\nnot a line\n${"ef".repeat(20)}`);
  mkdirSync(join(f.dir, "shares"), { recursive: true });
  writeFileSync(join(f.dir, ".sfx-share-store"), "");
  const store = await f.open();
  await rejects(store.beginUpload({ files: [{ path: "0", size: 1 }], lookup: kept }), "SFX_BAD_CODE", /had this code already/);
  assert.is(readFileSync(join(f.dir, "ended.log"), "utf8"), `${codeKey(kept)} ${until}\n`);
});

/** An enciphered share (as the service makes one: a lookup, a sealed list) of one byte, uploaded by `owner`. */
async function sealedShare(store: ShareStore, lookup: string, owner?: string, more: Partial<UploadRequest> = {}): Promise<CreatedShare> {
  const upload = await store.beginUpload({ files: [{ path: "0", size: 1 }], lookup, ...(owner === undefined ? {} : { owner, network: owner }), ...more });
  const sink = await upload.file(0);
  await sink.write(Buffer.from("x"));
  await sink.end(sha("x"));
  return upload.commit("AAAA");
}

test("each share is found by its own kind of key only: an enciphered one by its lookup (not v1: and its directory's name), one in the clear by its code or v1: and its store key (not as a lookup)", async () => {
  const f = fixture();
  const store = await f.open();
  const lookup = "12".repeat(32);
  await sealedShare(store, lookup);
  assert.is(store.list(lookup, CLIENT).files.length, 1);
  await rejects(() => store.list(`v1:${codeKey(lookup)}`, CLIENT), "SFX_SHARE_NOT_FOUND");
  const plain = await put(store, { a: "A" });
  assert.is(store.list(`v1:${codeKey(plain.code)}`, CLIENT).files.length, 1);
  assert.is(store.list(plain.code, CLIENT).files.length, 1);
  assert.is(readdirSync(join(f.dir, "shares")).length, 2);
});

test("two uploads under one lookup begun at once: one goes on, the other is refused", async () => {
  const f = fixture();
  const store = await f.open();
  const request = { files: [{ path: "0", size: 1 }], lookup: "34".repeat(32) };
  const both = await Promise.allSettled([store.beginUpload(request), store.beginUpload(request)]);
  assert.equal(both.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  const refused = both.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.ok(isSfxError(refused.reason, "SFX_BAD_CODE"), String(refused.reason));
  await (both.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<Awaited<ReturnType<ShareStore["beginUpload"]>>>).value.abort("test");
});

test("ended codes are kept in bounded room: one address's shares, or one network's, ended in a loop, forget their own oldest (a quarter of the room, a half), not anyone else's", async () => {
  const f = fixture();
  // Room for 10 × 8 = 80 ended codes; an address keeps 20 of them, a network 40.
  const store = await f.open({ maxShares: 8 });
  const lookupOf = (i: number) => i.toString(16).padStart(64, "0");
  const refused = async (lookup: string) => store.beginUpload({ files: [{ path: "0", size: 1 }], lookup }).then(async (u) => (await u.abort("test"), false), () => true);
  /** Shares ended by their one download, at once, as a loop would. */
  const endShare = async (lookup: string, owner: string, network = owner) => {
    await sealedShare(store, lookup, owner, { maxDownloads: 1, network });
    await download(store, lookup);
  };
  await endShare("ff".repeat(32), "192.0.2.99");
  for (let i = 0; i < 25; i++) await endShare(lookupOf(i), "192.0.2.1");
  await store.settled();
  assert.is(store.size, 0);
  // The flooder's oldest five are forgotten; its latest twenty, and the other address's, are kept.
  for (let i = 0; i < 25; i++) assert.is(await refused(lookupOf(i)), i >= 5, `share ${i}`);
  assert.ok(await refused("ff".repeat(32)));
  // Four addresses of one IPv6 /64, twenty each: their network keeps forty, and no one else's is forgotten.
  for (let host = 1; host <= 4; host++) {
    for (let i = 0; i < 20; i++) await endShare(lookupOf(1000 * host + i), `2001:db8::${host}`, "2001:db8::/64");
  }
  await store.settled();
  assert.ok(await refused("ff".repeat(32)), "the other address's ended code is kept");
  assert.ok(await refused(lookupOf(24)), "the first flooder's latest too");
  assert.ok(await refused(lookupOf(4019)), "the network's latest");
  assert.not.ok(await refused(lookupOf(1000)), "the network's oldest forgotten");
});

test.run();
