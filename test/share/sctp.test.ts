/**
 * Shares over the real stack in one process: UDP sockets on 127.0.0.1 port
 * 0, the SCTP endpoint, server sessions with the exchange service and the
 * share service attached, and clients connected as the CLI connects.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSfxError } from "../../src/errors.ts";
import { watchReceived } from "../_received.ts";
import { connect } from "../../src/client/connection.ts";
import { Receiver } from "../../src/client/receive.ts";
import { sendFiles } from "../../src/client/send.ts";
import { collectShareFiles, connectionShareLink, ShareClient, shareGet, shareList, sharePut } from "../../src/client/share.ts";
import { startExchangeService } from "../../src/server/exchange_service.ts";
import { ServerSession } from "../../src/server/session.ts";
import { attachShareService } from "../../src/share/attach.ts";
import { ShareStore } from "../../src/share/store.ts";
import { SctpEndpoint } from "../../src/transport/sctp/index.ts";
import { openDatagramSocket } from "../../src/transport/socket.ts";
import { until } from "../pairing/_harness.ts";

const base = mkdtempSync(join(tmpdir(), "sfx-share-sctp-"));
/** Server parts, closed in this order after the clients. */
const serverParts: (() => Promise<void>)[] = [];
const clients: (() => Promise<void>)[] = [];
let port = 0;
let store: ShareStore;
let shares: ReturnType<typeof attachShareService>;

test.before(async () => {
  const socket = await openDatagramSocket({ host: "127.0.0.1", port: 0 });
  const endpoint = SctpEndpoint.listen({ socket });
  const exchanges = startExchangeService({ endpoint, serverName: "test" });
  store = await ShareStore.open({ dir: join(base, "store") });
  shares = attachShareService(exchanges.sessions, store);
  port = endpoint.localAddress.port;
  serverParts.push(() => shares.close(), () => exchanges.close(), () => store.close(), () => endpoint.close(), () => socket.close());
});

test.after(async () => {
  for (const c of [...clients, ...serverParts]) await c().catch(() => {});
  rmSync(base, { recursive: true, force: true });
});

function sha(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function client() {
  const conn = await connect({ server: { host: "127.0.0.1", port } });
  clients.push(() => conn.close(500));
  return { conn, client: new ShareClient(connectionShareLink(conn)) };
}

test("put → ls → get over real SCTP on loopback: bytes and hashes equal", async () => {
  const src = join(base, "src");
  mkdirSync(join(src, "d"), { recursive: true });
  const data = randomBytes(8 * 1024 * 1024 + 5);
  writeFileSync(join(src, "d", "big.bin"), data);
  writeFileSync(join(src, "d", "note.txt"), "note");
  const { client: up } = await client();
  const created = await up.put(await collectShareFiles([join(src, "d")]), { expiresInMs: 600_000 });
  const { client: down } = await client();
  const listing = await down.list(created.code);
  assert.equal(listing.files.map((f) => [f.path, f.size]), [["d/big.bin", data.length], ["d/note.txt", 4]]);
  const out = join(base, "out");
  mkdirSync(out);
  await down.get(created.code, { dir: out });
  assert.is(sha(readFileSync(join(out, "d", "big.bin"))), sha(data));
  assert.is(readFileSync(join(out, "d", "note.txt"), "utf8"), "note");
});

test("over real SCTP the server frees each upload message once it is on disk, rather than leaving it to the GC", async () => {
  // What keeps the server's memory flat during a large upload: the association hands each message up in a
  // buffer of its own (or as the datagram that carried it alone), and the share service frees it once written.
  const src = join(base, "freed.bin");
  const data = randomBytes(6 * 1024 * 1024 + 3);
  writeFileSync(src, data);
  const seen: Uint8Array[] = [];
  const service = shares.service;
  const handleData = service.handleData.bind(service);
  service.handleData = (peer, stream, bytes, ppid) => {
    seen.push(bytes);
    return handleData(peer, stream, bytes, ppid);
  };
  try {
    const { client: up } = await client();
    const created = await up.put(await collectShareFiles([src]), { expiresInMs: 600_000 });
    assert.is(created.files[0].size, data.length);
  } finally {
    service.handleData = handleData;
  }
  const kept = seen.filter((m) => m.byteLength > 0).length;
  assert.ok(seen.length >= 90, `${seen.length} messages`);
  // A message that shared its datagram with another (a file's short last one) is rightly left to the GC.
  assert.ok(kept <= 2, `${kept} of ${seen.length} messages still hold their memory`);
});

test("over real SCTP a download's chunks are freed once the client has them all (sent with release)", async () => {
  const src = join(base, "down.bin");
  const data = randomBytes(6 * 1024 * 1024 + 7);
  writeFileSync(src, data);
  const { client: up } = await client();
  const created = await up.put(await collectShareFiles([src]), { expiresInMs: 600_000 });
  const sent: { data: Uint8Array; release: boolean }[] = [];
  const sendData = ServerSession.prototype.sendData;
  ServerSession.prototype.sendData = function (stream, bytes, ppid, opts) {
    sent.push({ data: bytes, release: opts?.release === true });
    return sendData.call(this, stream, bytes, ppid, opts);
  };
  const out = join(base, "down-out");
  mkdirSync(out);
  const conn = await connect({ server: { host: "127.0.0.1", port } });
  try {
    await new ShareClient(connectionShareLink(conn)).get(created.code, { dir: out });
  } finally {
    ServerSession.prototype.sendData = sendData;
    await conn.close(2000); // a graceful close: the server has the client's acknowledgement of every chunk
  }
  assert.is(sha(readFileSync(join(out, "down.bin"))), sha(data));
  assert.ok(sent.length >= 90, `${sent.length} chunks`);
  assert.equal(sent.filter((s) => !s.release).length, 0, "chunks sent without release");
  assert.equal(sent.filter((s) => s.data.byteLength > 0).length, 0, "chunks still holding memory");
});

test("over real SCTP the downloading client frees each message with a buffer of its own once it is on disk", async () => {
  const src = join(base, "down2.bin");
  const data = randomBytes(5 * 1024 * 1024 + 11);
  writeFileSync(src, data);
  const { client: up } = await client();
  const created = await up.put(await collectShareFiles([src]), { expiresInMs: 600_000 });
  const out = join(base, "down2-out");
  mkdirSync(out);
  const conn = await connect({ server: { host: "127.0.0.1", port } });
  clients.push(() => conn.close(500));
  const watch = watchReceived(conn);
  try {
    await new ShareClient(connectionShareLink(conn)).get(created.code, { dir: out });
  } finally {
    watch.stop();
  }
  assert.is(sha(readFileSync(join(out, "down2.bin"))), sha(data));
  assert.ok(watch.own.length >= 70 && watch.shared <= 6, `${watch.own.length} messages with their own buffer, ${watch.shared} sharing one`);
  assert.is(watch.own.filter((d) => d.byteLength !== 0).length, 0, "every message with its own buffer freed");
});

test("a wrong code over real SCTP is SFX_SHARE_NOT_FOUND, and the connection stays usable", async () => {
  const { client: c } = await client();
  try {
    await c.list("0000-0000-0000-0000-0000");
    assert.unreachable();
  } catch (err) {
    assert.ok(isSfxError(err, "SFX_SHARE_NOT_FOUND"), String(err));
  }
  const src = join(base, "one");
  writeFileSync(src, "x");
  const created = await c.put(await collectShareFiles([src]));
  assert.is((await c.list(created.code)).files[0].size, 1);
});

test("the one-shot library calls sharePut, shareList and shareGet each connect, work and close", async () => {
  const src = join(base, "lib.txt");
  writeFileSync(src, "library");
  const server = { host: "127.0.0.1", port };
  const created = await sharePut([src], { server, maxDownloads: 1 });
  assert.is((await shareList(created.code, { server })).maxDownloads, 1);
  const out = join(base, "lib-out");
  mkdirSync(out);
  const got = await shareGet(created.code, { dir: out, server });
  assert.is(got.files[0].name, "lib.txt");
  assert.is(readFileSync(join(out, "lib.txt"), "utf8"), "library");
});

/** A file in memory whose reading waits at `gate` (once) after its first chunk. */
function gatedFile(path: string, data: Uint8Array, gate: Promise<void>) {
  return {
    path,
    size: data.length,
    async *read() {
      for (let off = 0; off < data.length; off += 65536) {
        if (off === 65536) await gate;
        yield new Uint8Array(data.subarray(off, off + 65536)); // a copy: the sender enciphers it in place, and the transport frees it
      }
    },
  };
}

/** `p`, or a failure naming `what` after `ms` (the bug this guards against is a hang). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

test("one connection uploads a share while it sends an exchange (as sfx client runs both): the upload's bytes reach the share, not the exchange", async () => {
  const { conn: a, client: shareA } = await client();
  const { conn: b } = await client();
  const dir = mkdtempSync(join(base, "ex-"));
  const got = new Receiver(b, { dir, decide: async () => true }).receiveOne();
  got.catch(() => {}); // awaited below; a failure must not be reported as unhandled first
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const exData = randomBytes(1024 * 1024);
  const sending = sendFiles(a, { to: b.id, files: [gatedFile("ex.bin", exData, gate)] });
  sending.catch(() => {});
  await until(() => readdirCount(dir) > 0, 5000, "the exchange to start");
  const shared = randomBytes(300_000);
  writeFileSync(join(base, "during.bin"), shared);
  const created = await within(shareA.put(await collectShareFiles([join(base, "during.bin")]), { expiresInMs: 600_000 }), 5000, "the upload");
  assert.equal(created.files.map((f) => f.sha256), [sha(shared)]);
  open();
  await sending;
  await got;
  assert.is(sha(readFileSync(join(dir, "ex.bin"))), sha(exData));
});

test("one connection downloads a share while it receives an exchange: neither takes the other's bytes, whatever ids they were given", async () => {
  const src = join(base, "dl.bin");
  const shared = randomBytes(400_000);
  writeFileSync(src, shared);
  const { client: up } = await client();
  const { code } = await up.put(await collectShareFiles([src]), { expiresInMs: 600_000 });
  const { conn: a } = await client();
  const { conn: b, client: shareB } = await client();
  // A first exchange, then a second during which the download runs: with ids counted 1, 2, … on
  // both sides, the second exchange (id 2 at the receiver) and the download (request 2, after the
  // listing's request 1) would have had the same tag.
  for (const download of [false, true]) {
    const dir = mkdtempSync(join(base, "rx-"));
    const got = new Receiver(b, { dir, decide: async () => true }).receiveOne();
    got.catch(() => {});
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const exData = randomBytes(600_000);
    const sending = sendFiles(a, { to: b.id, files: [gatedFile("ex.bin", exData, gate)] });
    sending.catch(() => {});
    await until(() => readdirCount(dir) > 0, 5000, "the exchange to start");
    const out = mkdtempSync(join(base, "get-"));
    // The whole download runs while the exchange waits for the rest of its file.
    if (download) await within(shareB.get(code, { dir: out }), 10_000, "the download");
    open();
    await within(Promise.all([sending, got]), 10_000, "the exchange");
    assert.is(sha(readFileSync(join(dir, "ex.bin"))), sha(exData));
    if (download) assert.is(sha(readFileSync(join(out, "dl.bin"))), sha(shared));
  }
});

test("a cancelled upload does not send the bytes it still had queued, and the connection goes on", async () => {
  const { conn, client: up } = await client();
  const data = randomBytes(32 * 1024 * 1024);
  const ac = new AbortController();
  let given = 0;
  let queuedAtCancel = 0;
  const put = up.put([{ path: "big.bin", size: data.length, async *read() {
    for (let off = 0; off < data.length; off += 65536) yield data.slice(off, off + 65536);
  } }], {
    signal: ac.signal,
    onProgress: (p) => {
      given = p.bytes;
      // Cancel once a few megabytes wait in the association's queue (a source that never waits for
      // I/O fills it within one turn of the event loop, before any of it is sent).
      if (!ac.signal.aborted && conn.association.bufferedAmount > 2 * 1024 * 1024) {
        queuedAtCancel = conn.association.bufferedAmount;
        ac.abort();
      }
    },
  });
  await put.then(() => assert.unreachable("the put was cancelled"), (err) => assert.is(err.code, "SFX_CANCELLED"));
  assert.ok(queuedAtCancel > 0, "cancelled with data queued");
  await until(() => conn.association.bufferedAmount === 0, 5000, "what was in flight to be acknowledged");
  const sent = (conn.association as unknown as { stats(): { bytesSent: number } }).stats().bytesSent;
  // Sent: the upload's bytes that were on the wire, and a few control messages; not the megabytes queued.
  assert.ok(sent < given - 1024 * 1024, `${sent} bytes sent of the ${given} given, ${queuedAtCancel} queued at the cancel`);
  const small = join(base, "after-cancel.txt");
  writeFileSync(small, "still here");
  const created = await within(up.put(await collectShareFiles([small]), { expiresInMs: 600_000 }), 5000, "the next upload");
  assert.equal(created.files.map((f) => f.size), [10]);
});

test("cancelling an exchange while the same connection uploads a share: the cancel gets through, and the upload and the connection go on", async () => {
  const { conn: a, client: shareA } = await client();
  const { conn: b } = await client();
  const dir = mkdtempSync(join(base, "cx-"));
  const got = new Receiver(b, { dir, decide: async () => true }).receiveOne();
  got.catch(() => {});
  // An upload long enough that the connection's send buffer never empties while the exchange is cancelled.
  const block = randomBytes(65536);
  const size = 192 * 1024 * 1024;
  const hash = createHash("sha256");
  for (let off = 0; off < size; off += 65536) hash.update(block);
  let uploaded = 0;
  const put = shareA.put([{ path: "up.bin", size, async *read() {
    for (let off = 0; off < size; off += 65536) yield new Uint8Array(block); // a copy: the transport frees each one it is given
  } }], { expiresInMs: 600_000, onProgress: (p) => (uploaded = p.bytes) });
  put.catch(() => {});
  await until(() => uploaded > 8 * 1024 * 1024, 10_000, "the upload to be under way");
  const ac = new AbortController();
  let sentSome = false;
  const sending = sendFiles(a, { to: b.id, signal: ac.signal, cancelGraceMs: 100, onEvent: (e) => void (e.event === "progress" && (sentSome = true)), files: [gatedFile("ex.bin", randomBytes(8 * 65536), new Promise(() => {}))] });
  sending.catch(() => {});
  await until(() => sentSome, 10_000, "the exchange to start");
  ac.abort();
  await sending.then(() => assert.unreachable("cancelled"), (err) => assert.is(err.code, "SFX_CANCELLED"));
  await got.then(() => assert.unreachable("cancelled"), (err) => assert.match(err.message, /cancelled by the sender/));
  assert.is(a.closedWith, undefined, "the connection was not aborted");
  assert.ok(uploaded < size, "the upload was still running when the cancel went through");
  const created = await within(put, 60_000, "the upload");
  assert.equal(created.files.map((f) => f.sha256), [hash.digest("hex")]);
});


function readdirCount(dir: string): number {
  return readdirSync(dir).length;
}

test.run();
