/**
 * `ShareClient.get` against a hostile share server (an in-memory link that
 * answers as the test says): names are checked before anything is read or
 * asked for, and an answer that leaves out files asked for is a clear
 * protocol error.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ShareClient, type ShareLink } from "../../src/client/share.ts";
import { isSfxError } from "../../src/errors.ts";
import { type AnyMessage, dataPpid, decodeMessage, ErrorMessage } from "../../src/protocol/index.ts";
import { ShareDone, ShareEnd, ShareListingMessage, ShareReady, ShareSending } from "../../src/protocol/share.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const CODE = "7KQ2-M9XD-4T1F-HB6R-W3NP";
const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "sfx-share-hostile-"));
  dirs.push(d);
  return d;
}

type Listed = { path: string; size: number; sha256: string };

/** A server that lists `files` and answers share.get with `onGet`; `seen` records the client's requests. */
function fakeServer(files: Listed[], onGet?: (req: number, reply: (b: Uint8Array) => void, data: (d: Uint8Array, ppid: number) => void) => void, stallMs?: number) {
  const handlers = new Set<(m: AnyMessage) => void>();
  const dataHandlers = new Set<(s: number, d: Uint8Array, p: number) => void | Promise<void>>();
  const seen: string[] = [];
  const reply = (bytes: Uint8Array) => queueMicrotask(() => {
    for (const h of handlers) h(decodeMessage(bytes));
  });
  const data = (d: Uint8Array, ppid: number) => {
    for (const h of dataHandlers) void h(1, d, ppid);
  };
  const link: ShareLink = {
    send(bytes) {
      const m = decodeMessage(bytes) as AnyMessage & { req: number };
      seen.push(m.type);
      if (m.type === "share.ls") reply(ShareListingMessage.encode({ req: m.req, createdAt: 0, expiresAt: Date.now() + 1e6, maxDownloads: null, downloads: 0, files }));
      if (m.type === "share.get") onGet?.(m.req, reply, data);
    },
    sendData: () => true,
    drained: async () => {},
    onMessage: (h) => (handlers.add(h), () => handlers.delete(h)),
    onData: (h) => (dataHandlers.add(h), () => dataHandlers.delete(h)),
    onClose: () => () => {},
    stallMs,
  };
  return { link, seen };
}

async function getError(link: ShareLink, dir: string): Promise<unknown> {
  try {
    await new ShareClient(link).get(CODE, { dir });
  } catch (err) {
    return err;
  }
  return assert.unreachable("get succeeded");
}

test("a listed name that leaves the directory is refused before any file is read or asked for: the server learns nothing", async () => {
  const base = tmp();
  const dir = join(base, "downloads");
  mkdirSync(dir);
  const secret = new TextEncoder().encode("my private note\n");
  writeFileSync(join(base, "secret.txt"), secret);
  for (const path of ["../secret.txt", "a/../../secret.txt", "/etc/hostname"]) {
    // A right guess of the secret's size and hash, and a decoy the client would fetch.
    const { link, seen } = fakeServer([{ path, size: secret.length, sha256: sha(secret) }, { path: "decoy.txt", size: 1, sha256: "0".repeat(64) }]);
    const err = await getError(link, dir);
    assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
    assert.match((err as Error).message, /^The server listed an unsafe file name: Refusing file name /);
    assert.equal(seen, ["share.ls"], "no share.get: whether it was sent would tell the server its guess was right");
  }
  assert.equal(readdirSync(dir), []);
});

test("a copy 'already there' is looked for only inside the directory: a linked subdirectory leading out is not read through", async () => {
  const base = tmp();
  const dir = join(base, "downloads");
  mkdirSync(dir);
  mkdirSync(join(base, "private"));
  const secret = new TextEncoder().encode("my private note\n");
  writeFileSync(join(base, "private", "secret.txt"), secret);
  symlinkSync(join(base, "private"), join(dir, "sub"));
  const { link, seen } = fakeServer([{ path: "sub/secret.txt", size: secret.length, sha256: sha(secret) }]);
  const err = await getError(link, dir);
  assert.ok(isSfxError(err, "SFX_IO"), String(err));
  assert.match((err as Error).message, /symbolic link/);
  assert.equal(seen, ["share.ls"], "the server learns nothing about the file behind the link");
});

test("a server that never answers a listing: Ctrl-C gives up at once, and the request times out anyway", async () => {
  const link: ShareLink = {
    send() {}, // swallowed: no answer ever comes
    sendData: () => true,
    drained: async () => {},
    onMessage: () => () => {},
    onData: () => () => {},
    onClose: () => () => {},
  };
  const client = new ShareClient(link);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  const cancelled = await client.list(CODE, { signal: ac.signal }).catch((e: unknown) => e);
  assert.ok(isSfxError(cancelled, "SFX_CANCELLED"), String(cancelled));
  const timedOut = await client.list(CODE, { timeoutMs: 100 }).catch((e: unknown) => e);
  assert.ok(isSfxError(timedOut, "SFX_CONNECTION_LOST"), String(timedOut));
  assert.match((timedOut as Error).message, /did not answer within 0\.1 s/);
});

test("a name listed twice is a protocol error", async () => {
  const dir = tmp();
  const f = { path: "x.bin", size: 1, sha256: "0".repeat(64) };
  const { link, seen } = fakeServer([f, f]);
  const err = await getError(link, dir);
  assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  assert.match((err as Error).message, /listed "x\.bin" twice/);
  assert.equal(seen, ["share.ls"]);
});

test("a server that gives up on the get after every byte and end arrived (waiting for share.received while the disk syncs) does not fail it: the file is in place", async () => {
  const dir = tmp();
  const a = new Uint8Array(100_000).fill(4);
  const { link, seen } = fakeServer([{ path: "a.bin", size: a.length, sha256: sha(a) }], (req, reply, data) => {
    reply(ShareSending.encode({ req, files: [{ path: "a.bin", size: a.length, offset: 0, sha256: sha(a) }] }));
    queueMicrotask(() => {
      data(a.slice(), dataPpid(req, 0));
      reply(ShareEnd.encode({ req, file: 0, size: a.length, sha256: sha(a) }));
      // Before the client has hashed, synced and renamed the file.
      reply(ErrorMessage.encode({ req, code: "SFX_TRANSFER_FAILED", message: "You read nothing for 2 s: the server stopped the download" }));
    });
  });
  const r = await new ShareClient(link).get(CODE, { dir });
  assert.equal(readFileSync(r.files[0].path), Buffer.from(a));
  assert.not.ok(seen.includes("share.received"), "the server has given up: nothing to tell it");
});

test("a server that sends only some of the files asked for gets a protocol error naming the rest, and keeps the partial for a resume", async () => {
  const dir = tmp();
  const a = new Uint8Array(10).fill(1);
  const b = new Uint8Array(20).fill(2);
  const { link } = fakeServer([{ path: "a.bin", size: a.length, sha256: sha(a) }, { path: "b.bin", size: b.length, sha256: sha(b) }], (req, reply, data) => {
    reply(ShareSending.encode({ req, files: [{ path: "a.bin", size: a.length, offset: 0, sha256: sha(a) }] }));
    queueMicrotask(() => {
      data(a.slice(), dataPpid(req, 0));
      reply(ShareEnd.encode({ req, file: 0, size: a.length, sha256: sha(a) }));
    });
  });
  const err = await getError(link, dir);
  assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  assert.match((err as Error).message, /did not offer "b\.bin"/);
  assert.not.ok(readdirSync(dir).includes("b.bin"));
});

test("a server that stops sending mid-download: the get gives up after the link's stall limit (another transfer's bytes meanwhile do not count), tells the server once, and keeps the partial for a resume", async () => {
  const dir = tmp();
  const a = new Uint8Array(100_000).fill(3);
  let other: ReturnType<typeof setInterval> | undefined;
  const { link, seen } = fakeServer([{ path: "a.bin", size: a.length, sha256: sha(a) }], (req, reply, data) => {
    reply(ShareSending.encode({ req, files: [{ path: "a.bin", size: a.length, offset: 0, sha256: sha(a) }] }));
    queueMicrotask(() => data(a.slice(0, 40_000), dataPpid(req, 0))); // …and then nothing of this download
    // An exchange on the same connection keeps streaming (for 4 s at most).
    let n = 0;
    other = setInterval(() => (++n > 200 ? clearInterval(other) : data(new Uint8Array(1000), dataPpid(req + 1, 0))), 20);
  }, 300);
  const t0 = Date.now();
  const err = await getError(link, dir);
  clearInterval(other);
  assert.ok(isSfxError(err, "SFX_TRANSFER_FAILED"), String(err));
  assert.match((err as Error).message, /Nothing moved for \d+ s/);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  assert.equal(seen, ["share.ls", "share.get", "share.cancel"]);
  assert.ok(readdirSync(dir).some((n) => n.endsWith(".sfx-part")), `partial kept: ${readdirSync(dir)}`);
});

test("a server that starts 33 files and then sends nothing: the get still gives up after the stall limit (bytes waiting for one of the 32 writers are not the client's own work) and keeps the 32 parts", async () => {
  const dir = tmp();
  const body = new Uint8Array([1, 2]);
  const files = Array.from({ length: 33 }, (_, i) => ({ path: `f${i}.bin`, size: 2, sha256: sha(body) }));
  const { link } = fakeServer(files, (req, reply, data) => {
    reply(ShareSending.encode({ req, files: files.map((f) => ({ ...f, offset: 0 })) }));
    queueMicrotask(() => files.forEach((_, i) => data(body.slice(0, 1), dataPpid(req, i))));
  }, 300);
  const t0 = Date.now();
  // Bounded: what this guards against is a get that waits for ever.
  const err = await new ShareClient(link).get(CODE, { dir, signal: AbortSignal.timeout(5000) }).then(() => assert.unreachable("got"), (e) => e);
  assert.ok(isSfxError(err, "SFX_TRANSFER_FAILED"), String(err));
  assert.match((err as Error).message, /Nothing moved for \d+ s/);
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  assert.is(readdirSync(dir).filter((n) => n.endsWith(".sfx-part")).length, 32);
  assert.is(readdirSync(dir).filter((n) => n.endsWith(".sfx-lock")).length, 0, "locks left");
});

test("two gets of one share into one directory both finish when the later one writes a file first (the writer of a file opens when its bytes come: the earlier get writes its own part)", async () => {
  const dir = tmp();
  const contents = [new Uint8Array(1000).fill(1), new Uint8Array(1000).fill(2)];
  const files = contents.map((c, i) => ({ path: `f${i}.bin`, size: c.length, sha256: sha(c) }));
  /** A server for one get: after `before`, each file whole, its end, then the done; resolves `wrote` once the client has written f0's first bytes. */
  const server = (before: Promise<void>) => {
    const handlers = new Set<(m: AnyMessage) => void>();
    const dataHandlers = new Set<(s: number, d: Uint8Array, p: number) => void | Promise<void>>();
    const reply = (b: Uint8Array) => queueMicrotask(() => handlers.forEach((h) => h(decodeMessage(b))));
    let wrote!: () => void;
    const written = new Promise<void>((r) => (wrote = r));
    const link: ShareLink = {
      send(bytes) {
        const m = decodeMessage(bytes) as AnyMessage & { req: number };
        if (m.type === "share.ls") reply(ShareListingMessage.encode({ req: m.req, createdAt: 0, expiresAt: Date.now() + 1e6, maxDownloads: null, downloads: 0, files }));
        if (m.type === "share.received") reply(ShareDone.encode({ req: m.req, files: files.length, bytes: 2000 }));
        if (m.type !== "share.get") return;
        reply(ShareSending.encode({ req: m.req, files: files.map((f) => ({ ...f, offset: 0 })) }));
        void (async () => {
          await before;
          for (let i = 0; i < files.length; i++) {
            // The data handler resolves once the bytes are on disk (its writer open, its part locked).
            await Promise.all([...dataHandlers].map((h) => h(1, contents[i].slice(0, 500), dataPpid(m.req, i))));
            if (i === 0) wrote();
            await Promise.all([...dataHandlers].map((h) => h(1, contents[i].slice(500), dataPpid(m.req, i))));
            reply(ShareEnd.encode({ req: m.req, file: i, size: files[i].size, sha256: files[i].sha256 }));
          }
        })();
      },
      sendData: () => true,
      drained: async () => {},
      onMessage: (h) => (handlers.add(h), () => handlers.delete(h)),
      onData: (h) => (dataHandlers.add(h), () => dataHandlers.delete(h)),
      onClose: () => () => {},
      stallMs: 5000,
    };
    return { link, written };
  };
  let go!: () => void;
  const later = new Promise<void>((r) => (go = r));
  // A asks first, but its bytes come only once B has written into f0's part.
  const A = server(later);
  const a = new ShareClient(A.link).get(CODE, { dir });
  void a.catch(() => {});
  const B = server(Promise.resolve());
  const b = new ShareClient(B.link).get(CODE, { dir });
  void b.catch(() => {});
  await B.written;
  go();
  assert.is((await a).files.length, 2);
  assert.is((await b).files.length, 2);
  assert.equal(readdirSync(dir).sort(), ["f0.bin", "f1.bin"]);
});

test("a server whose window never opens during an upload: the put gives up after the link's stall limit and tells the server once", async () => {
  const seen: string[] = [];
  const handlers = new Set<(m: AnyMessage) => void>();
  const link: ShareLink = {
    send(bytes) {
      const m = decodeMessage(bytes) as AnyMessage & { req: number };
      seen.push(m.type);
      if (m.type === "share.put") queueMicrotask(() => { for (const h of handlers) h(decodeMessage(ShareReady.encode({ req: m.req }))); });
    },
    sendData: () => false, // full, and never drained
    drained: () => new Promise(() => {}),
    onMessage: (h) => (handlers.add(h), () => handlers.delete(h)),
    onData: () => () => {},
    onClose: () => () => {},
    stallMs: 300,
  };
  const data = new Uint8Array(300_000).fill(5);
  const file = { path: "up.bin", size: data.length, async *read() { for (let o = 0; o < data.length; o += 65536) yield data.slice(o, o + 65536); } };
  const err = await new ShareClient(link).put([file]).catch((e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_TRANSFER_FAILED"), String(err));
  assert.match((err as Error).message, /Nothing moved for \d+ s/);
  assert.equal(seen, ["share.put", "share.cancel"]);
});

test.run();
