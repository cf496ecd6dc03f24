import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Receiver, withoutFolder } from "../../src/client/receive.ts";
import { sendFiles } from "../../src/client/send.ts";
import { collectFiles } from "../../src/client/walk.ts";
import type { ClientConnection } from "../../src/client/connection.ts";
import { isSfxError, SfxError } from "../../src/errors.ts";
import { Cancel, dataPpid, Done, End, ErrorMessage, FIRST_DATA_STREAM, Offer, Start } from "../../src/protocol/index.ts";
import { HandSender } from "../_hand_sender.ts";
import { startHarness, until } from "../pairing/_harness.ts";
import { withTmpfs } from "../_tmpfs.ts";

const dirs: string[] = [];
test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "sfx-recv-"));
  dirs.push(d);
  return d;
}
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** A hand-driven sender: offers, waits for start (and says its key), then runs `script`. Returns the error the receiver reported, if any. */
async function hostile(
  files: Array<{ path: string; size: number | null; modified?: number }>,
  script: (s: HandSender, xid: number) => void,
  opts: { stallMs?: number } = {},
): Promise<{ receiverError: unknown; senderSaw: string | undefined; dir: string }> {
  const h = startHarness();
  try {
    const s = await h.client();
    const r = await h.client();
    const dir = tmp();
    const got = new Receiver(r.conn, { dir, decide: async () => true, ...opts }).receiveOne();
    const xid = 5;
    const started = s.conn.waitFor((m) => Start.is(m));
    const hand = new HandSender(s.conn);
    hand.offer(xid, r.conn.id, files);
    hand.started(xid, await started as { key?: string });
    const answer = s.conn.waitFor((m) => m.xid === xid && (ErrorMessage.is(m) || Done.is(m)), { timeout: { ms: 3000, error: () => new Error("no answer") as never } });
    answer.catch(() => {}); // the script may close the sender's connection
    script(hand, xid);
    let receiverError: unknown;
    try {
      await got;
    } catch (err) {
      receiverError = err;
    }
    const m = await answer.catch(() => undefined);
    return { receiverError, senderSaw: m && ErrorMessage.is(m) ? m.code : m?.type, dir };
  } finally {
    await h.close();
  }
}

/** A sender and a receiver connected to one in-memory server, for `fn`; everything closed after. */
async function withPair(fn: (s: ClientConnection, r: ClientConnection) => Promise<void>): Promise<void> {
  const h = startHarness();
  try {
    const s = await h.client();
    const r = await h.client();
    await fn(s.conn, r.conn);
  } finally {
    await h.close();
  }
}

const bytes = new Uint8Array(1000).fill(7);

test("a Receiver given link/../x receives into ./x, as the path reads: the directory it makes is the one it writes", async () => {
  await withPair(async (s, r) => {
    const root = tmp();
    mkdirSync(join(root, "a", "b"), { recursive: true });
    symlinkSync(join(root, "a", "b"), join(root, "link"));
    writeFileSync(join(root, "f.txt"), "dotdot");
    const files = await collectFiles([join(root, "f.txt")]);
    const [got] = await Promise.all([
      new Receiver(r, { dir: `${root}/link/../x`, decide: async () => true }).receiveOne(),
      sendFiles(s, { to: r.id, files }),
    ]);
    assert.ok(got.accepted);
    assert.is(readFileSync(join(root, "x", "f.txt"), "utf8"), "dotdot");
    assert.not.ok(existsSync(join(root, "a", "x")));
  });
});

test("an offer withdrawn right behind it (Offer and Cancel delivered in one turn) is seen as withdrawn, not accepted and then waited on", async () => {
  await withPair(async (s, r) => {
    let decided = false;
    const got = new Receiver(r, { dir: tmp(), decide: async () => (decided = true) }).receiveOne().then(() => undefined, (err: unknown) => err);
    const xid = 6;
    // The sender offers and cancels at once: the server relays both, which reach the receiver together.
    new HandSender(s).offer(xid, r.id, [{ path: "a.bin", size: 1000 }]);
    s.sendControl(Cancel.encode({ xid, reason: "changed my mind" }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const err = await Promise.race([got, new Promise((resolve) => (timer = setTimeout(resolve, 5000, "still waiting after 5 s")))]);
    clearTimeout(timer);
    assert.ok(isSfxError(err, "SFX_CANCELLED"), String(err));
    assert.not.ok(decided, "the withdrawn offer was never put to the user");
  });
});

test("an offer that comes right behind the previous exchange's done, before the next receiveOne, is held for it, not dropped", async () => {
  await withPair(async (s, r) => {
    const dir = tmp();
    const src = mkdtempSync(join(tmpdir(), "sfx-backlog-"));
    writeFileSync(join(src, "a.txt"), "first");
    writeFileSync(join(src, "b.txt"), "second");
    const receiver = new Receiver(r, { dir, decide: async () => true });
    const [first] = await Promise.all([receiveOneOrTimeout(receiver), sendFiles(s, { to: r.id, files: await collectFiles([join(src, "a.txt")]) })]);
    assert.ok(first.accepted);
    // The sender offers again at once; the offer reaches the receiver before it asks for the next one.
    const second = sendFiles(s, { to: r.id, files: await collectFiles([join(src, "b.txt")]) }).then(() => undefined, (err: unknown) => err);
    await r.waitFor((m) => Offer.is(m));
    const got = await receiveOneOrTimeout(receiver);
    assert.is(await second, undefined);
    assert.ok(got.accepted);
    assert.is(readFileSync(join(dir, "b.txt"), "utf8"), "second");
    rmSync(src, { recursive: true, force: true });
  });
});

test("two Receivers on one connection: each offer is handled once, by whichever asks next", async () => {
  await withPair(async (s, r) => {
    const src = mkdtempSync(join(tmpdir(), "sfx-two-receivers-"));
    for (const n of ["a", "b", "c"]) writeFileSync(join(src, n), n);
    const seen: string[] = [];
    const make = (who: string) => new Receiver(r, { dir: tmp(), decide: async (o) => (seen.push(`${who}:${o.files[0].path}`), true) });
    const first = make("R1");
    const send = async (n: string) => assert.is(await sendFiles(s, { to: r.id, files: await collectFiles([join(src, n)]) }).then(() => undefined, (e: unknown) => e), undefined);
    await Promise.all([receiveOneOrTimeout(first), send("a")]);
    const second = make("R2");
    await Promise.all([receiveOneOrTimeout(second), send("b")]);
    await Promise.all([receiveOneOrTimeout(first), send("c")]);
    // Both waiting: one takes the offer, the other goes on waiting (it had failed as an internal error).
    const stop = new AbortController();
    const both = [first, second].map((x) => x.receiveOne(stop.signal).then((e) => e.accepted, (err: unknown) => (err as { code?: string }).code));
    await send("a");
    stop.abort(); // the one still waiting stops now
    assert.equal((await Promise.all(both)).map(String).sort(), ["SFX_CANCELLED", "true"]);
    assert.equal(seen.slice(0, 3), ["R1:a", "R2:b", "R1:c"]);
    rmSync(src, { recursive: true, force: true });
  });
});

/** receiveOne, failing the test after 5 s rather than waiting out the offer timeout. */
async function receiveOneOrTimeout(receiver: Receiver) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("no offer taken within 5 s")), 5000)));
  try {
    return await Promise.race([receiver.receiveOne(), late]);
  } finally {
    clearTimeout(timer);
  }
}

test("an offer with a name carrying terminal escapes is refused before it is shown: no offer event", async () => {
  await withPair(async (s, r) => {
    const events: string[] = [];
    let rejectedFrom: string | undefined;
    const got = new Receiver(r, {
      dir: tmp(),
      decide: async () => true,
      onEvent: (e) => {
        events.push(e.event);
        if (e.event === "rejected") rejectedFrom = e.from;
      },
    }).receiveOne();
    const answer = s.waitFor((m) => m.xid === 9, { timeout: { ms: 3000, error: () => new Error("no answer") as never } });
    s.sendControl(Offer.encode({ xid: 9, to: r.id, files: [{ path: "\u001b]0;title\u0007report.pdf", size: 3 }] }));
    const m = await answer;
    await got;
    assert.is(m.type, "reject");
    assert.equal(events, ["rejected"]);
    assert.is(rejectedFrom, s.id, "the refusal names who sent the offer");
  });
});

test("an offer naming one file twice is refused with a reason that shows the name printable (an invisible character as U+FFFD)", async () => {
  await withPair(async (s, r) => {
    let reason = "";
    const got = new Receiver(r, { dir: tmp(), decide: async () => true, onEvent: (e) => void (e.event === "rejected" && (reason = e.reason)) }).receiveOne();
    const answer = s.waitFor((m) => m.xid === 9, { timeout: { ms: 3000, error: () => new Error("no answer") as never } });
    s.sendControl(Offer.encode({ xid: 9, to: r.id, files: [{ path: "a\u200b.txt", size: 3 }, { path: "a\u200b.txt", size: 3 }] }));
    await answer;
    await got;
    assert.match(reason, "names a\ufffd.txt twice");
  });
});

test("an offer of 1,500 tiny and empty files arrives whole under a limit of 128 open files (32 are written at once, at most 32 more when ends lag)", () => {
  const dir = tmp();
  const fixture = fileURLToPath(new URL("../fixtures/many_small_files.ts", import.meta.url));
  const r = spawnSync("prlimit", ["--nofile=128:128", process.execPath, fixture, dir, "1500"], { encoding: "utf8", timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout.trim().split("\n").pop()!), { ok: true, files: 1501 });
  assert.is(readdirSync(join(dir, "e")).length, 1500);
  // 4 KiB files past a 64 KiB pause threshold: the cap must hold while the receiver pauses (it once
  // let a file past the cap each time the threshold was crossed, and ran out of descriptors).
  for (let run = 0; run < 3; run++) {
    const d = tmp();
    const q = spawnSync("prlimit", ["--nofile=128:128", process.execPath, fixture, d, "1000", "4096", "65536"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(JSON.parse(q.stdout.trim().split("\n").pop()!), { ok: true, files: 1001 }, `run ${run}: ${q.stderr}`);
  }
  // A slow disk (30 ms per fsync): files being finished hold their slots, and are not files waiting
  // for their ends (counting them so let a file past the cap on every check).
  const d = tmp();
  // 100 descriptors: the ~23 a Node process holds, 32 writers, at most 32 more let past the cap, some room.
  const q = spawnSync("prlimit", ["--nofile=100:100", process.execPath, fixture, d, "3000", "64", "65536", "30"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(JSON.parse(q.stdout.trim().split("\n").pop()!), { ok: true, files: 3001 }, q.stderr);
  // Every file's bytes first, then all the ends (stream 0 lagging the data): the receiver pauses the
  // data but not the control stream, so the ends still come and free the slots; no file goes past the cap.
  for (const args of [["2000", "64", "65536", "0", "1"], ["300", "8192", "65536", "0", "1"]]) {
    const e = tmp();
    const l = spawnSync("prlimit", ["--nofile=100:100", process.execPath, fixture, e, ...args], { encoding: "utf8", timeout: 120_000 });
    assert.equal(JSON.parse(l.stdout.trim().split("\n").pop() || "{}"), { ok: true, files: Number(args[0]) + 1 }, `${args.join(" ")}: ${l.stderr}`);
  }
  // The same with the link shut to control messages too once 4 KiB of data is held (a real
  // association's full window drops new chunks of every stream): the ends cannot come, so files are
  // let past the cap while the slot holders only wait for theirs — at most 32 past it.
  const w = tmp();
  const shut = spawnSync("prlimit", ["--nofile=100:100", process.execPath, fixture, w, "60", "8192", "16384", "0", "1", "4096"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(JSON.parse(shut.stdout.trim().split("\n").pop() || "{}"), { ok: true, files: 61 }, shut.stderr);
});

test("32 files open, and a 33rd file's bytes past the pause threshold before the ends that free them: no deadlock", async () => {
  // The ends travel on stream 0 and the bytes on a data stream: a lost and resent control chunk lets
  // the 33rd file's bytes arrive first. Pausing for bytes queued behind a writer slot would stop
  // stream 0 too, and with it the ends that free the slots.
  const h = startHarness();
  try {
    const s = await h.client();
    const r = await h.client();
    const dir = tmp();
    const n = 33;
    const one = new Uint8Array([1]);
    const big = new Uint8Array(300_000).fill(2);
    const files = Array.from({ length: n }, (_, i) => ({ path: `f${i}`, size: i === n - 1 ? big.length : 1 }));
    const got = new Receiver(r.conn, { dir, decide: async () => true, maxPendingBytes: 64 * 1024 }).receiveOne();
    const xid = 5;
    const started = s.conn.waitFor((m) => Start.is(m));
    const hand = new HandSender(s.conn);
    hand.offer(xid, r.conn.id, files);
    hand.started(xid, await started as { key?: string });
    for (let i = 0; i < n - 1; i++) hand.sendData(FIRST_DATA_STREAM, one, dataPpid(xid, i));
    for (let k = 0; k < 300; k++) hand.sendData(FIRST_DATA_STREAM, big.subarray(k * 1000, (k + 1) * 1000), dataPpid(xid, n - 1));
    for (let i = 0; i < n; i++) hand.sendControl(End.encode({ xid, file: i, size: files[i].size, sha256: sha(i === n - 1 ? big : one) }));
    hand.sendControl(Done.encode({ xid }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const result = await Promise.race([got, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("stalled: no result in 8 s")), 8000)))])
      .finally(() => clearTimeout(timer));
    assert.is(result.files.length, n);
    assert.is(readdirSync(dir).length, n);
  } finally {
    await h.close();
  }
});

test("a wrong SHA-256 fails with SFX_INTEGRITY on both sides and keeps nothing", async () => {
  const r = await hostile([{ path: "a.bin", size: 1000 }], (s, xid) => {
    s.sendData(FIRST_DATA_STREAM, bytes, dataPpid(xid, 0));
    s.sendControl(End.encode({ xid, file: 0, size: 1000, sha256: "0".repeat(64) }));
    s.sendControl(Done.encode({ xid }));
  });
  assert.ok(isSfxError(r.receiverError, "SFX_INTEGRITY"), String(r.receiverError));
  assert.is(r.senderSaw, "SFX_INTEGRITY");
  assert.equal(readdirSync(r.dir), []);
});

test("an exchange the sender ends with its own error (a file it could not read) keeps the bytes received, to resume", async () => {
  const chunk = new Uint8Array(60_000).fill(3);
  const r = await hostile([{ path: "big.bin", size: 2 * 1024 * 1024, modified: 1_700_000_000_000 }], (s, xid) => {
    for (let i = 0; i < 10; i++) s.sendData(FIRST_DATA_STREAM, chunk, dataPpid(xid, 0));
    s.sendControl(ErrorMessage.encode({ xid, code: "SFX_IO", message: "Cannot read /src/next.bin: permission denied (EACCES)" }));
  });
  assert.ok(isSfxError(r.receiverError, "SFX_IO"), String(r.receiverError));
  const kept = readdirSync(r.dir).filter((n) => n.endsWith(".sfx-part"));
  assert.equal(kept, [".big.bin.sfx-part"], readdirSync(r.dir).join(", "));
  assert.ok(statSync(join(r.dir, ".big.bin.sfx-part")).size > 0);
});

test("more bytes than offered fail with SFX_INTEGRITY and keep nothing", async () => {
  const r = await hostile([{ path: "a.bin", size: 10 }], (s, xid) => {
    s.sendData(FIRST_DATA_STREAM, bytes, dataPpid(xid, 0));
  });
  assert.ok(isSfxError(r.receiverError, "SFX_PROTOCOL") || isSfxError(r.receiverError, "SFX_INTEGRITY"), String(r.receiverError));
  assert.equal(readdirSync(r.dir), []);
});

test("'done' without an 'end' for every file fails with SFX_PROTOCOL instead of waiting forever", async () => {
  const r = await hostile([{ path: "a.bin", size: 1000 }, { path: "b.bin", size: 5 }], (s, xid) => {
    s.sendData(FIRST_DATA_STREAM, bytes, dataPpid(xid, 0));
    s.sendControl(End.encode({ xid, file: 0, size: 1000, sha256: sha(bytes) }));
    s.sendControl(Done.encode({ xid }));
  });
  assert.ok(isSfxError(r.receiverError, "SFX_PROTOCOL"), String(r.receiverError));
  assert.equal(readdirSync(r.dir).filter((n) => n !== "a.bin"), [], "only a verified file may remain");
});

test("an 'end' whose size differs from the offer fails with SFX_INTEGRITY", async () => {
  const r = await hostile([{ path: "a.bin", size: 1000 }], (s, xid) => {
    s.sendControl(End.encode({ xid, file: 0, size: 999, sha256: sha(bytes) }));
  });
  assert.ok(isSfxError(r.receiverError, "SFX_INTEGRITY"), String(r.receiverError));
});

test("the end may arrive before the bytes: the file completes when its bytes are all in", async () => {
  const r = await hostile([{ path: "late.bin", size: 1000 }], (s, xid) => {
    s.sendControl(End.encode({ xid, file: 0, size: 1000, sha256: sha(bytes) }));
    s.sendControl(Done.encode({ xid }));
    setTimeout(() => s.sendData(FIRST_DATA_STREAM, bytes, dataPpid(xid, 0)), 50);
  });
  assert.is(r.receiverError, undefined);
  assert.is(r.senderSaw, "done");
  assert.equal(readdirSync(r.dir), ["late.bin"]);
});

/** Yields `whole` in 60,000-byte chunks, then runs `after` (the sender has handed over every chunk). */
function sourceOf(path: string, whole: Uint8Array, after: () => void = () => {}) {
  return {
    path, size: whole.length, modified: 1_700_000_000_000,
    async *read() {
      for (let at = 0; at < whole.length; at += 60_000) yield whole.slice(at, at + 60_000);
      after();
    },
  };
}

/** A file the sender cannot read past its first chunk. */
const unreadable = {
  path: "second.bin", size: 1_000_000, modified: 1_700_000_000_000,
  async *read() {
    yield new Uint8Array(60_000);
    throw new SfxError("SFX_IO", "Cannot read second.bin: EIO: i/o error, read");
  },
};

test("a sender that fails on its next file still delivers the file it ended: the failure waits behind that file's bytes (at the sender, the relay and the receiver), and the file is placed, verified", async () => {
  // Small windows everywhere, so the file's bytes lag behind the control messages: the relay
  // pauses the sender's data and the receiver pauses its own while 'end' and the error pass.
  const h = startHarness({}, { highWater: 64 * 1024, lowWater: 16 * 1024, perTick: 2 });
  try {
    const s = await h.client();
    const r = await h.client();
    const dir = tmp();
    const whole = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const events: string[] = [];
    const got = new Receiver(r.conn, { dir, decide: async () => true, maxPendingBytes: 64 * 1024, onEvent: (e) => void events.push(e.event === "file" ? `file ${e.path}` : e.event) }).receiveOne();
    got.catch(() => {});
    const sent = sendFiles(s.conn, { to: r.conn.id, files: [sourceOf("first.bin", whole), unreadable] });
    const senderError = await sent.then(() => undefined, (err) => err);
    assert.ok(isSfxError(senderError, "SFX_IO"), String(senderError));
    const receiverError = await got.then(() => undefined, (err) => err);
    assert.ok(isSfxError(receiverError, "SFX_IO"), String(receiverError));
    assert.match(String(receiverError.message), /EIO/);
    assert.ok(existsSync(join(dir, "first.bin")), `first.bin not placed: ${readdirSync(dir).join(", ")}`);
    assert.is(sha(readFileSync(join(dir, "first.bin"))), sha(whole));
    assert.ok(events.indexOf("file first.bin") >= 0 && events.indexOf("file first.bin") < events.indexOf("error"), events.join(", "));
  } finally {
    await h.close();
  }
});

test("a failure that overtakes the last bytes of a file already ended waits for them: the file is placed, verified, then the exchange fails", async () => {
  const h = startHarness();
  try {
    const s = await h.client();
    const r = await h.client();
    const dir = tmp();
    const whole = new Uint8Array(2 * 60_000).map((_, i) => i % 249);
    const events: string[] = [];
    const got = new Receiver(r.conn, { dir, decide: async () => true, onEvent: (e) => void events.push(e.event === "file" ? `file ${e.path}` : e.event) }).receiveOne();
    got.catch(() => {});
    const xid = 5;
    const started = s.conn.waitFor((m) => Start.is(m));
    const hand = new HandSender(s.conn);
    hand.offer(xid, r.conn.id, [{ path: "first.bin", size: whole.length }, { path: "second.bin", size: 10 }]);
    hand.started(xid, await started as { key?: string });
    hand.sendData(FIRST_DATA_STREAM, whole.slice(0, 60_000), dataPpid(xid, 0));
    await until(() => events.includes("progress"), 3000, "the first bytes written");
    // The receiving side holds data from here on, as a full window would; control passes it.
    r.fake.pause({ except: [0] });
    hand.sendData(FIRST_DATA_STREAM, whole.slice(60_000), dataPpid(xid, 0));
    const before = r.serverSide.messagesAcknowledged(0).given;
    hand.sendControl(End.encode({ xid, file: 0, size: whole.length, sha256: sha(whole) }));
    s.conn.sendControl(ErrorMessage.encode({ xid, code: "SFX_IO", message: "The sender failed: cannot read second.bin" }));
    await until(() => {
      const control = r.serverSide.messagesAcknowledged(0);
      return control.given === before + 2 && control.acknowledged === control.given;
    }, 3000, "the end and the failure delivered ahead of the bytes");
    r.fake.resume();
    const receiverError = await got.then(() => undefined, (err) => err);
    assert.ok(isSfxError(receiverError, "SFX_IO"), String(receiverError));
    assert.equal(readdirSync(dir), ["first.bin"]);
    assert.is(sha(readFileSync(join(dir, "first.bin"))), sha(whole));
    assert.ok(events.indexOf("file first.bin") < events.indexOf("error"), events.join(", "));
  } finally {
    await h.close();
  }
});

test("a failure held for the last bytes of a file already ended, which never come (the sender left without them), ends the exchange once nothing moves: the bytes are kept", async () => {
  const whole = new Uint8Array(2 * 1024 * 1024).map((_, i) => i % 247);
  const r = await hostile([{ path: "first.bin", size: whole.length, modified: 1_700_000_000_000 }, { path: "second.bin", size: 10 }], (s, xid) => {
    s.sendData(FIRST_DATA_STREAM, whole.slice(0, 60_000), dataPpid(xid, 0));
    s.sendControl(End.encode({ xid, file: 0, size: whole.length, sha256: sha(whole) }));
    s.sendControl(ErrorMessage.encode({ xid, code: "SFX_IO", message: "The sender failed: cannot read second.bin" }));
    void s.close();
  }, { stallMs: 400 });
  assert.ok(isSfxError(r.receiverError, "SFX_IO"), String(r.receiverError));
  assert.equal(readdirSync(r.dir).filter((n) => !n.endsWith(".sfx-resume")), [".first.bin.sfx-part"]);
});

test("a sender that fails on its next file keeps the queued bytes of the file it ended: they go, and the receiver places that file", async () => {
  // The server stops taking the sender's packets once the first file is handed over: its last
  // bytes are still queued at the sender (window 0: everything queued counts as not yet on the wire).
  const h = startHarness({ idleTimeoutMs: 1000 });
  try {
    const s = await h.client({ window: 0 });
    const r = await h.client();
    const dir = tmp();
    const whole = new Uint8Array(1024 * 1024).map((_, i) => i % 253);
    const got = new Receiver(r.conn, { dir, decide: async () => true }).receiveOne();
    got.catch(() => {});
    const senderError = await sendFiles(s.conn, { to: r.conn.id, files: [sourceOf("first.bin", whole, () => s.serverSide.stall()), unreadable] }).then(() => undefined, (err) => err);
    assert.ok(isSfxError(senderError, "SFX_IO"), String(senderError));
    s.serverSide.unstall();
    const receiverError = await got.then(() => undefined, (err) => err);
    assert.ok(isSfxError(receiverError, "SFX_IO"), String(receiverError));
    assert.ok(existsSync(join(dir, "first.bin")), `first.bin not placed: ${readdirSync(dir).join(", ")}`);
    assert.is(sha(readFileSync(join(dir, "first.bin"))), sha(whole));
  } finally {
    await h.close();
  }
});

test("a full disk on the receiver fails both sides with SFX_IO and leaves nothing (tmpfs of 256 KiB)", async () => {
  const mnt = tmp();
  await withTmpfs(mnt, "256k", async () => {
    const h = startHarness();
    try {
      const s = await h.client();
      const r = await h.client();
      const { sendFiles } = await import("../../src/client/send.ts");
      const data = new Uint8Array(1024 * 1024).fill(1);
      const got = new Receiver(r.conn, { dir: mnt, decide: async () => true }).receiveOne();
      got.catch(() => {});
      const sending = sendFiles(s.conn, {
        to: r.conn.id,
        // Size unknown up front (as from standard input): the free-space check cannot refuse it, the disk fills mid-transfer.
        files: [{ path: "big.bin", size: null, async *read() {
          for (let o = 0; o < data.length; o += 65536) yield data.slice(o, o + 65536);
        } }],
      });
      sending.catch(() => {});
      for (const [p, who] of [[got, "receiver"], [sending, "sender"]] as const) {
        try {
          await p;
          assert.unreachable(`${who} succeeded`);
        } catch (err) {
          assert.ok(isSfxError(err, "SFX_IO"), `${who}: ${err}`);
          assert.match((err as Error).message, /disk is full/);
          // The sender learns which of its files, not where the receiver keeps them.
          if (who === "sender") assert.not.ok((err as Error).message.includes(mnt), (err as Error).message);
          else assert.ok((err as Error).message.includes(mnt), (err as Error).message);
        }
      }
      assert.equal(readdirSync(mnt), []);
    } finally {
      await h.close();
    }
  });
});

test("withoutFolder(): the receiving folder leaves what the sender is told, as given and as its real path (a --dir that is a link), by whole path segments", () => {
  const base = mkdtempSync(join(tmpdir(), "sfx-wf-"));
  dirs.push(base);
  mkdirSync(join(base, "real"));
  symlinkSync(join(base, "real"), join(base, "link"));
  const link = join(base, "link");
  assert.is(withoutFolder(`Cannot open ${base}/real/.x.txt.sfx-part: the disk is full`, link), "Cannot open .x.txt.sfx-part: the disk is full");
  assert.is(withoutFolder(`Cannot write ${link}/a/b.bin: the disk is full`, link), "Cannot write a/b.bin: the disk is full");
  assert.is(withoutFolder(`Cannot read ${link}: permission denied`, link), "Cannot read the receiving folder: permission denied");
  // A folder whose name starts another's is not cut out of it.
  assert.is(withoutFolder(`Cannot write ${base}/linkbox/f: x`, link), `Cannot write ${base}/linkbox/f: x`);
  assert.is(withoutFolder("Cannot write /etc/x: y", "/"), "Cannot write /etc/x: y", "the root is every path's start: left alone");
  assert.is(withoutFolder(`EIO at ${link}.`, link), "EIO at the receiving folder.", "a sentence's full stop ends the path");
  assert.is(withoutFolder(`path \`${link}\` gone`, link), "path `the receiving folder` gone");
  assert.is(withoutFolder(`x ${link}.old/f`, link), `x ${link}.old/f`, "a sibling named like it is another folder");
});

test.run();
