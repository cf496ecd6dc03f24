import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSfxError } from "../../src/errors.ts";
import { associationShareLink, collectShareFiles, connectionShareLink, ShareClient } from "../../src/client/share.ts";
import { ClientConnection } from "../../src/client/connection.ts";
import { CONTROL_PPID, decodeMessage, Hello, PROTOCOL_VERSION, Welcome } from "../../src/protocol/index.ts";
import { SessionServer } from "../../src/server/session.ts";
import { attachShareService } from "../../src/share/attach.ts";
import { ShareStore } from "../../src/share/store.ts";
import { type FakeAssociation, fakeAssociationPair } from "../_fake_association.ts";
import { withTmpfs } from "../_tmpfs.ts";

const base = mkdtempSync(join(tmpdir(), "sfx-share-attach-"));
let store: ShareStore;
let sessions: SessionServer;
let shares: ReturnType<typeof attachShareService>;
const opened: FakeAssociation[] = [];

test.before(async () => {
  store = await ShareStore.open({ dir: join(base, "store"), sweepTimer: false, limits: { maxFilesPerShare: 1000 } });
  sessions = new SessionServer({ serverName: "test" });
  shares = attachShareService(sessions, store);
});

test.after(async () => {
  for (const a of opened) a.abort("test over");
  await shares.close();
  await sessions.close(100);
  await store.close();
  rmSync(base, { recursive: true, force: true });
});

function sha(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A client association that has said hello to the session server. */
async function connect(): Promise<{ client: ShareClient; assoc: FakeAssociation; server: FakeAssociation }> {
  const [clientSide, serverSide] = fakeAssociationPair({ highWater: 128 * 1024, lowWater: 32 * 1024 });
  opened.push(clientSide);
  sessions.attach(serverSide);
  const welcomed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no welcome")), 5000);
    clientSide.on("message", (stream: number, data: Uint8Array) => {
      if (stream === 0 && Welcome.is(decodeMessage(data))) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  clientSide.send(0, Hello.encode({ protocol: PROTOCOL_VERSION, client: "test" }), { ppid: CONTROL_PPID });
  await welcomed;
  return { client: new ShareClient(associationShareLink(clientSide)), assoc: clientSide, server: serverSide };
}

/** The error a get that must fail fails with (SFX_IO). */
async function getFails(client: ShareClient, code: string, dir: string): Promise<Error> {
  const err = await client.get(code, { dir }).then(() => assert.unreachable("got it"), (e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_IO"), String(err));
  return err as Error;
}

test("through the session server: put → ls → get with paused associations bounding memory", async () => {
  const src = join(base, "src1");
  const out = join(base, "out1");
  mkdirSync(join(src, "d"), { recursive: true });
  mkdirSync(out);
  const big = randomBytes(12 * 1024 * 1024);
  writeFileSync(join(src, "d", "big.bin"), big);
  writeFileSync(join(src, "d", "small.txt"), "small");
  const { client, assoc, server } = await connect();
  const created = await client.put(await collectShareFiles([join(src, "d")]), { expiresInMs: 60_000 });
  assert.ok(assoc.peakBuffered <= 256 * 1024, `client queued ${assoc.peakBuffered}`);
  const listing = await client.list(created.code);
  assert.equal(listing.files.map((f) => f.path), ["d/big.bin", "d/small.txt"]);
  await client.get(created.code, { dir: out });
  assert.is(sha(readFileSync(join(out, "d", "big.bin"))), sha(big));
  assert.is(readFileSync(join(out, "d", "small.txt"), "utf8"), "small");
  assert.ok(server.peakBuffered <= 256 * 1024, `server queued ${server.peakBuffered}`);
});

test("a put whose signal is already aborted is SFX_CANCELLED and creates nothing (it used to create the share)", async () => {
  const src = join(base, "pre-aborted");
  mkdirSync(src);
  writeFileSync(join(src, "a.txt"), "a");
  const { client } = await connect();
  const before = store.size;
  const err = await client.put(await collectShareFiles([src]), { signal: AbortSignal.abort() }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_CANCELLED"), String(err));
  assert.is(store.size, before);
  assert.is(store.uploadsInProgress, 0);
});

test("a put with an expiry under a second, a NaN expiresAt or a download count under 1 is the caller's mistake (SFX_BAD_ARGUMENT), said before anything is sent", async () => {
  const { client } = await connect();
  for (const opts of [{ expiresInMs: 0 }, { expiresInMs: 999 }, { expiresInMs: 1.5 }, { expiresAt: Number.NaN }, { expiresAt: -1 }, { expiresAt: 9e15 }, { expiresAt: Date.now() + 60_000, expiresInMs: 5000 }, { maxDownloads: 0 }, { maxDownloads: 1.5 }, { maxDownloads: 2_000_000 }]) {
    const err = await client.put([], opts).then(() => undefined, (e: unknown) => e);
    assert.ok(isSfxError(err, "SFX_BAD_ARGUMENT"), `${JSON.stringify(opts)}: ${err}`);
  }
});

test("a session that drops mid-upload leaves no share and no upload files", async () => {
  const src = join(base, "src2");
  mkdirSync(src);
  writeFileSync(join(src, "f"), randomBytes(6 * 1024 * 1024));
  const { client, assoc } = await connect();
  const before = store.size;
  let killed = false;
  const p = client.put(await collectShareFiles([join(src, "f")]), {
    onProgress: (pr) => {
      if (!killed && pr.bytes > 1_000_000) {
        killed = true;
        assoc.kill();
      }
    },
  });
  try {
    await p;
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_CONNECTION_LOST"), String(err));
  }
  const deadline = Date.now() + 5000;
  while ((store.uploadsInProgress > 0 || readdirSync(join(store.dir, "uploads")).length > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.is(store.uploadsInProgress, 0);
  assert.equal(readdirSync(join(store.dir, "uploads")), []);
  assert.is(store.size, before);
  assert.is(shares.service.activeRequests, 0);
});

test("a get of 600 files holds a few dozen files open, not 600 (a share of more files than the process may open used to fail with EMFILE and leave empty parts behind)", async () => {
  const src = join(base, "many");
  mkdirSync(src);
  const names: string[] = [];
  for (let i = 0; i < 600; i++) {
    names.push(join(src, `f${i}.bin`));
    writeFileSync(names[i], randomBytes(1000 + i));
  }
  const { client } = await connect();
  const { code } = await client.put(await collectShareFiles([src]));
  const out = join(base, "out-many");
  mkdirSync(out);
  const fds = () => readdirSync("/proc/self/fd").length;
  const before = fds();
  let most = before;
  const r = await client.get(code, { dir: out, onProgress: () => void (most = Math.max(most, fds())) });
  assert.is(r.files.length, 600);
  assert.ok(most - before <= 80, `${most - before} more files open at most`);
  for (let i = 0; i < 600; i += 37) assert.is(sha(readFileSync(join(out, "many", `f${i}.bin`))), sha(readFileSync(names[i])));
  assert.is(readdirSync(join(out, "many")).length, 600, "no parts left");
});

test("a get into a disk without room for it is refused before anything is asked for or written (tmpfs of 1 MiB, 3 MB share)", async () => {
  const src = join(base, "roomy");
  mkdirSync(src);
  writeFileSync(join(src, "a.bin"), randomBytes(1_500_000));
  writeFileSync(join(src, "b.bin"), randomBytes(1_500_000));
  const { client } = await connect();
  const { code } = await client.put(await collectShareFiles([src]));
  const out = join(base, "out-small");
  mkdirSync(out);
  await withTmpfs(out, "1m", async () => {
    assert.match((await getFails(client, code, out)).message, /Not enough free space in .*out-small: the files need 2\.9 MiB, it has 1\.0 MiB/);
    assert.equal(readdirSync(out), [], "nothing created, not even the directory its files go in");
    // A --dir not made yet is judged by the file system it would be on, and not made.
    assert.match((await getFails(client, code, join(out, "new", "dl"))).message, /Not enough free space in .*new\/dl: the files need 2\.9 MiB, it has 1\.0 MiB/);
    assert.equal(readdirSync(out), [], "not even --dir");
  });
  // Where the files fit, the get makes its directory.
  const fresh = join(base, "fresh", "dl");
  assert.is((await client.get(code, { dir: fresh })).files.length, 2);
  assert.equal(readdirSync(join(fresh, "roomy")).sort(), ["a.bin", "b.bin"]);
  // 300 files of 2,000 bytes: 600 kB, but each takes a whole 4 KiB block (1.2 MiB).
  const small = join(base, "small");
  mkdirSync(small);
  for (let i = 0; i < 300; i++) writeFileSync(join(small, `s${i}`), randomBytes(2000));
  const { code: many } = await client.put(await collectShareFiles([small]));
  await withTmpfs(out, "1m", async () => {
    assert.match((await getFails(client, many, out)).message, /Not enough free space in .*: the files need 1\.2 MiB, it has 1\.0 MiB/);
  });
  // The same 300 files, with space to spare but room for 15 files: out of inodes, and said so.
  await withTmpfs(out, "8m", async () => {
    assert.match((await getFails(client, many, out)).message, /Not enough room in .*out-small: 300 files and 1 folder to create take 397 inodes while being written \(a file being written also takes a lock, a link and a note for a while\), it has 15 free \(its file system is out of inodes, not of space\)/);
    assert.equal(readdirSync(out), []);
  }, { inodes: 16 });
});

test("a get whose path would be too long under --dir (every name fitting) fails before anything is created, naming the file", async () => {
  const src = join(base, "deep-src");
  // Four folders of 207 bytes and a file (share paths take 1,024 bytes): 833 bytes, 4,3xx with --dir.
  const rel = [...Array.from({ length: 4 }, (_, i) => `${i}`.padEnd(207, "d")), "f.txt"].join("/");
  mkdirSync(join(src, ...rel.split("/").slice(0, -1)), { recursive: true });
  writeFileSync(join(src, ...rel.split("/")), "deep");
  const { client } = await connect();
  const { code } = await client.put(await collectShareFiles([join(src, rel.split("/")[0])]));
  const out = join(base, ...Array.from({ length: 14 }, (_, i) => `${i}`.padEnd(250, "o")));
  const err = await getFails(client, code, out);
  assert.match(err.message, /^Cannot save 0d+\/.*\/f\.txt in .*: its path would be 4\d{3} bytes, more than the system takes \(4,095\)$/);
  assert.not.ok(existsSync(join(base, "0".padEnd(250, "o"))), "not even --dir is made");
});

test("a --dir written link/../x means one directory for every step (./x, as the path reads): made there and written there", async () => {
  const src = join(base, "dotdot-src");
  mkdirSync(src);
  writeFileSync(join(src, "f.txt"), "dotdot");
  const { client } = await connect();
  const { code } = await client.put(await collectShareFiles([join(src, "f.txt")]));
  const root = join(base, "dotdot");
  mkdirSync(join(root, "a", "b"), { recursive: true });
  symlinkSync(join(root, "a", "b"), join(root, "link"));
  // path.join would tidy the '..' away: the path is given as a user types it.
  const r = await client.get(code, { dir: `${root}/link/../x` });
  assert.is(r.files.length, 1);
  assert.is(readFileSync(join(root, "x", "f.txt"), "utf8"), "dotdot");
  assert.not.ok(existsSync(join(root, "a", "x")), "nothing made where the kernel's walk through the link would go");
});

test("a get one of whose files goes into a read-only directory fails before anything is asked for: no file of the share is written", async () => {
  const src = join(base, "ro-src");
  mkdirSync(join(src, "ro", "sub"), { recursive: true });
  writeFileSync(join(src, "ro", "a.bin"), randomBytes(100_000));
  writeFileSync(join(src, "ro", "sub", "x.txt"), "x");
  const { client } = await connect();
  const { code } = await client.put(await collectShareFiles([join(src, "ro")]));
  const out = join(base, "out-ro");
  mkdirSync(join(out, "ro", "sub"), { recursive: true });
  await withTmpfs(join(out, "ro", "sub"), "64k", async () => {
    assert.match((await getFails(client, code, out)).message, /Cannot write into .*ro\/sub: the file system is read-only \(EROFS\)/);
    assert.equal(readdirSync(join(out, "ro")), ["sub"]);
  }, { readOnly: true });
});

test("through a ClientConnection (what the CLI uses): put, then get resumes after a dropped connection", async () => {
  const src = join(base, "src3");
  const out = join(base, "out3");
  mkdirSync(src);
  mkdirSync(out);
  const data = randomBytes(8 * 1024 * 1024);
  writeFileSync(join(src, "f.bin"), data);
  const conn = async () => {
    const [clientSide, serverSide] = fakeAssociationPair({ highWater: 128 * 1024, lowWater: 32 * 1024 });
    opened.push(clientSide);
    sessions.attach(serverSide);
    const c = await ClientConnection.handshake(clientSide);
    return { c, serverSide, client: new ShareClient(connectionShareLink(c)) };
  };
  const first = await conn();
  const { code } = await first.client.put(await collectShareFiles([join(src, "f.bin")]));
  let killed = false;
  try {
    await first.client.get(code, {
      dir: out,
      onProgress: (p) => {
        if (!killed && p.bytes > 2_000_000) {
          killed = true;
          first.serverSide.kill(); // the server's side vanishes: the client sees a timeout
        }
      },
    });
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_CONNECTION_LOST"), String(err));
  }
  const second = await conn();
  const r = await second.client.get(code, { dir: out });
  assert.ok(r.files[0].resumedFrom > 0, "resumed");
  assert.is(sha(readFileSync(join(out, "f.bin"))), sha(data));
  await second.c.close(100);
});

test.run();
