/**
 * Exchanges are enciphered end to end (src/protocol/exchange_crypto.ts), through the
 * in-memory server: what the relay carries, the code both users see, and what the receiver
 * does with an offer, a key or bytes that are not what they should be.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ReceivedExchange, Receiver } from "../../src/client/receive.ts";
import { sendFiles } from "../../src/client/send.ts";
import { collectFiles } from "../../src/client/walk.ts";
import type { TransferEvent } from "../../src/client/events.ts";
import { isSfxError } from "../../src/errors.ts";
import { ExchangeKeyPair } from "../../src/protocol/exchange_crypto.ts";
import { Accept, dataPpid, Done, End, ErrorMessage, FIRST_DATA_STREAM, Offer, Reject, Start } from "../../src/protocol/index.ts";
import { HandSender } from "../_hand_sender.ts";
import { harnessed, type Harness, until } from "../pairing/_harness.ts";
import { tempDirs } from "../_temp.ts";

const tmp = tempDirs(test, "sfx-crypt-");
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

harnessed("what the server relays is not the file: the receiver gets it whole, and both ends show the same verification code", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const src = tmp();
  // Text a relay would plainly see: a line repeated, 300 KB.
  const text = Buffer.from("the quarterly figures, confidential\n".repeat(8500));
  writeFileSync(join(src, "report.txt"), text);
  const relayed: Buffer[] = [];
  // Registered before the receiver's own listener: it sees the bytes as they came.
  r.conn.onData((_stream, data) => void relayed.push(Buffer.from(data)));
  const codes: Record<string, string> = {};
  const events = (who: string) => (e: TransferEvent) => void (e.event === "verify" && (codes[who] = e.code));
  const dir = tmp();
  const [got] = await Promise.all([
    new Receiver(r.conn, { dir, decide: async () => true, onEvent: events("receiver") }).receiveOne(),
    sendFiles(s.conn, { to: r.conn.id, files: await collectFiles([join(src, "report.txt")]), onEvent: events("sender") }),
  ]);
  assert.ok(got.accepted);
  assert.equal(readFileSync(join(dir, "report.txt")), text);
  const wire = Buffer.concat(relayed);
  assert.is(wire.length, text.length, "no bytes added: the server counts the file's size");
  assert.is(wire.indexOf("confidential"), -1, "not one line of it in clear on the way");
  assert.match(codes.sender ?? "", /^\d{3}-\d{3}$/);
  assert.is(codes.receiver, codes.sender);
});

/**
 * A hand-made sender (xid 5) that offered `files` to a real Receiver through `h`'s server, and has
 * had its start: its keys bound to `bindTo` (another list is what a server that rewrote the offer
 * makes of it), `keyOpts` as `HandSender.started` takes them. `got` is the receiver's outcome, or
 * its error; `receiverCode()` the code it showed.
 */
async function handToReceiver(
  h: Harness,
  files: Array<{ path: string; size: number }>,
  opts: { bindTo?: Array<{ path: string; size: number }>; keyOpts?: Parameters<HandSender["started"]>[2] } = {},
) {
  const s = await h.client();
  const r = await h.client();
  const dir = tmp();
  let code: string | undefined;
  const got = new Receiver(r.conn, { dir, decide: async () => true, onEvent: (e) => void (e.event === "verify" && (code = e.code)) })
    .receiveOne().then((x) => x, (e: unknown) => e);
  const xid = 5;
  const hand = new HandSender(s.conn);
  const started = s.conn.waitFor((m) => Start.is(m));
  hand.offer(xid, r.conn.id, files, opts.bindTo);
  const sendKey = hand.started(xid, await started as { key?: string }, opts.keyOpts);
  return { s, dir, got, hand, xid, sendKey, receiverCode: () => code };
}

harnessed("bytes changed on the way (by someone without the key) fail the file with SFX_INTEGRITY on both sides; nothing is kept under its name", async (h) => {
  const data = new Uint8Array(3000).fill(9);
  const { s, dir, got, hand, xid } = await handToReceiver(h, [{ path: "a.bin", size: data.length }]);
  const told = s.conn.waitFor((m) => m.xid === xid && ErrorMessage.is(m));
  hand.sendData(FIRST_DATA_STREAM, data, dataPpid(xid, 0), (enciphered) => void (enciphered[100] ^= 1)); // one bit flipped
  hand.sendControl(End.encode({ xid, file: 0, size: data.length, sha256: sha(data) }));
  hand.sendControl(Done.encode({ xid }));
  const err = await got;
  assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  const message = (await told as unknown as { code?: string; message: string });
  assert.is(message.code, "SFX_INTEGRITY");
  // No hash of what was deciphered goes back through the server: flipping a known bit, it could
  // test guesses of a short file against it (the key stream flips the same bit of the plaintext).
  const flipped = new Uint8Array(data);
  flipped[100] ^= 1;
  assert.not.ok(message.message.includes(sha(flipped).slice(0, 12)), message.message);
  assert.not.match(message.message, /[0-9a-f]{12}/);
  assert.equal(readdirSync(dir), []);
});

harnessed("a sender key that is not the one the offer committed to (swapped by the server) fails the exchange as SFX_PROTOCOL, and nothing is written", async (h) => {
  const { dir, got, hand, xid } = await handToReceiver(h, [{ path: "a.bin", size: 3 }], { keyOpts: { key: ExchangeKeyPair.generate().publicKey } });
  hand.sendData(FIRST_DATA_STREAM, new Uint8Array([1, 2, 3]), dataPpid(xid, 0));
  const err = await got;
  assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  assert.match((err as Error).message, /not the one its offer committed to/);
  assert.equal(readdirSync(dir), []);
});

harnessed("an offer whose list of files was changed on the way (a server that swaps two names) gives the receiver other keys: no file passes its check, nothing is kept, and the codes differ", async (h) => {
  const yes = new TextEncoder().encode("APPROVED");
  const no = new TextEncoder().encode("REJECTED");
  // The sender offered approve.txt then reject.txt; the receiver is shown them the other way round.
  const sent = [{ path: "approve.txt", size: 8 }, { path: "reject.txt", size: 8 }];
  const { dir, got, hand, xid, receiverCode: shown } = await handToReceiver(h, [sent[1], sent[0]], { bindTo: sent });
  hand.sendData(FIRST_DATA_STREAM, yes, dataPpid(xid, 0));
  hand.sendData(FIRST_DATA_STREAM, no, dataPpid(xid, 1));
  hand.sendControl(End.encode({ xid, file: 0, size: 8, sha256: sha(yes) }));
  hand.sendControl(End.encode({ xid, file: 1, size: 8, sha256: sha(no) }));
  hand.sendControl(Done.encode({ xid }));
  const err = await got;
  assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  assert.match((err as Error).message, /the two ends' keys disagree because the list of files or a key was changed \(the verification codes then differ\)/);
  assert.equal(readdirSync(dir).filter((n) => !n.startsWith(".")), [], "neither name holds anything");
  const receiverCode = shown();
  assert.ok(receiverCode !== undefined && hand.code !== undefined && receiverCode !== hand.code, `codes ${receiverCode} and ${hand.code}`);
});

harnessed("a 'done' that does not vouch for the files (made up on the way, or an older receiver's) fails the send: the sender does not say the receiver has them", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const src = tmp();
  writeFileSync(join(src, "a.txt"), "alpha");
  const offered = r.conn.waitFor((m) => Offer.is(m));
  const events: string[] = [];
  const sent = sendFiles(s.conn, { to: r.conn.id, files: await collectFiles([join(src, "a.txt")]), onEvent: (e) => void events.push(e.event) })
    .then(() => undefined, (e: unknown) => e);
  const offer = (await offered) as unknown as { xid: number };
  const sendersDone = r.conn.waitFor((m) => Done.is(m));
  r.conn.sendControl(Accept.encode({ xid: offer.xid, key: ExchangeKeyPair.generate().publicKey }));
  await sendersDone;
  r.conn.sendControl(Done.encode({ xid: offer.xid, files: 1, bytes: 5 }));
  const err = await sent;
  assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  assert.match((err as Error).message, /'done' does not vouch for the files sent/);
  assert.not.ok(events.includes("done"), events.join(", "));
});

harnessed("bytes that overtake the sender's key (no order across streams) wait for it, and are deciphered when it comes", async (h) => {
  const data = new Uint8Array(200_000).map((_, i) => i % 253);
  const { dir, got, hand, xid, sendKey } = await handToReceiver(h, [{ path: "late-key.bin", size: data.length }], { keyOpts: { keyLater: true } });
  for (let at = 0; at < data.length; at += 50_000) hand.sendData(FIRST_DATA_STREAM, data.subarray(at, at + 50_000), dataPpid(xid, 0));
  sendKey();
  hand.sendControl(End.encode({ xid, file: 0, size: data.length, sha256: sha(data) }));
  hand.sendControl(Done.encode({ xid }));
  const result = await got as ReceivedExchange;
  assert.ok(result.accepted);
  assert.equal(new Uint8Array(readFileSync(join(dir, "late-key.bin"))), data);
});

harnessed("an offer without the sender's key commitment (an older sfx, or stripped on the way) is refused before anyone is asked; a start without the receiver's key fails the send before a byte goes", async (h) => {
  const s = await h.client();
  const r = await h.client();
  let asked = false;
  const events: TransferEvent[] = [];
  const got = new Receiver(r.conn, { dir: tmp(), decide: async () => (asked = true), onEvent: (e) => void events.push(e) }).receiveOne();
  const rejected = s.conn.waitFor((m) => Reject.is(m));
  s.conn.sendControl(Offer.encode({ xid: 5, to: r.conn.id, files: [{ path: "a.bin", size: 3 }] }));
  assert.match(String((await rejected as { reason?: string }).reason), /carries no key, so its files could not be enciphered/);
  assert.is((await got).accepted, false);
  assert.not.ok(asked, "the user was not asked");
  assert.ok(events.some((e) => e.event === "rejected" && /carries no key/.test(e.reason)));

  // The other way: a receiver (or server) that accepts without a key.
  const src = tmp();
  writeFileSync(join(src, "b.txt"), "bee");
  const offered = r.conn.waitFor((m) => Offer.is(m));
  const sent = sendFiles(s.conn, { to: r.conn.id, files: await collectFiles([join(src, "b.txt")]) }).then(() => undefined, (e: unknown) => e);
  const offer = (await offered) as unknown as { xid: number };
  const data: Uint8Array[] = [];
  r.conn.onData((_stream, d) => void data.push(d));
  r.conn.sendControl(Accept.encode({ xid: offer.xid }));
  const err = await sent;
  assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  assert.match((err as Error).message, /carries no key, so the files could not be enciphered: nothing was sent/);
  assert.equal(data, [], "not a byte");
});

harnessed("confirmCode (send --verify): nothing is sent until the user has typed the code the receiver shows; other digits end the exchange with not a byte relayed, no answer cancels it, and the receiver is told either way", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const src = tmp();
  writeFileSync(join(src, "plans.txt"), "the plans, ".repeat(1000));
  const files = await collectFiles([join(src, "plans.txt")]);
  const relayed: Uint8Array[] = [];
  r.conn.onData((_stream, d) => void relayed.push(d));
  let receiverCode: string | undefined;
  const dir = tmp();
  // Agreed: the files go once the answer comes, and not before.
  let answer!: (typed: string) => void;
  let asked = 0;
  const received = new Receiver(r.conn, { dir, decide: async () => true, onEvent: (e) => void (e.event === "verify" && (receiverCode = e.code)) }).receiveOne();
  const said: TransferEvent[] = [];
  const sent = sendFiles(s.conn, { to: r.conn.id, files, onEvent: (e) => void said.push(e), confirmCode: () => (asked++, new Promise<string>((res) => (answer = res))) });
  await until(() => asked === 1 && receiverCode !== undefined, 5000, "the question, and the receiver's code");
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(relayed, [], "nothing sent while the user compares");
  assert.not.ok(said.some((e) => e.event === "verify"), "this end's code is not told before the answer (a --json line could be copied)");
  answer(receiverCode!.replace("-", " "));
  await sent;
  assert.equal(said.filter((e) => e.event === "verify").map((e) => (e as { code: string }).code), [receiverCode], "told once the codes matched");
  assert.ok((await received).accepted);
  assert.is(readFileSync(join(dir, "plans.txt"), "utf8"), "the plans, ".repeat(1000));

  // Told the codes differ: ended, not a byte relayed, the receiver told why.
  relayed.length = 0;
  const dir2 = tmp();
  const events: TransferEvent[] = [];
  const refused = new Receiver(r.conn, { dir: dir2, decide: async () => true, onEvent: (e) => void events.push(e) }).receiveOne().then((x) => x, (e: unknown) => e);
  const err = await sendFiles(s.conn, { to: r.conn.id, files, confirmCode: async () => "12" }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  assert.match((err as Error).message, /^Not sent: the code you typed \("12"\) is not this end's \(\d{3}-\d{3}\)\. If that is the code the receiver shows, someone between you \(the server\?\) holds keys of its own; if it was mistyped, send again\. No byte of the files was sent$/);
  const outcome = await refused;
  assert.ok(isSfxError(outcome, "SFX_CANCELLED"), String(outcome));
  assert.match((outcome as Error).message, /the code the sender typed is not this exchange.s \(mistyped, or someone between you holds keys of its own\): nothing was sent/);
  assert.equal(relayed, []);
  assert.equal(readdirSync(dir2), []);

  // No answer (Ctrl-D, Ctrl-C on the session's prompt line): a cancel, not an alarm.
  const dir3 = tmp();
  const left = new Receiver(r.conn, { dir: dir3, decide: async () => true }).receiveOne().then((x) => x, (e: unknown) => e);
  const cancelled = await sendFiles(s.conn, { to: r.conn.id, files, confirmCode: async () => undefined }).then(() => undefined, (e: unknown) => e);
  assert.ok(isSfxError(cancelled, "SFX_CANCELLED"), String(cancelled));
  assert.match((cancelled as Error).message, /^Cancelled at the verification code, before anything was sent: the receiver was told$/);
  const told = await left;
  assert.ok(isSfxError(told, "SFX_CANCELLED"), String(told));
  assert.match((told as Error).message, /cancelled by the sender/);
  assert.equal(relayed, []);
  assert.equal(readdirSync(dir3), []);
});

harnessed("confirmCode: a receiver that cancels while the user compares ends the wait (the question is withdrawn), and the send fails as cancelled by it", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const src = tmp();
  writeFileSync(join(src, "x.txt"), "x");
  const stop = new AbortController();
  const received = new Receiver(r.conn, { dir: tmp(), decide: async () => true }).receiveOne(stop.signal).then((x) => x, (e: unknown) => e);
  let withdrawn = false;
  let asked = false;
  const sent = sendFiles(s.conn, {
    to: r.conn.id,
    files: await collectFiles([join(src, "x.txt")]),
    confirmCode: (signal) => {
      asked = true;
      return new Promise<string>((_res, rej) => signal.addEventListener("abort", () => ((withdrawn = true), rej(new Error("withdrawn")))));
    },
  }).then(() => undefined, (e: unknown) => e);
  await until(() => asked, 5000, "the question");
  stop.abort();
  const err = await sent;
  assert.ok(isSfxError(err, "SFX_CANCELLED"), String(err));
  assert.match((err as Error).message, /^The receiver cancelled/);
  assert.ok(withdrawn, "the question was withdrawn");
  await received;
});

harnessed("confirmCode: no code typed within the server's idle timeout ends the exchange, said as that, with nothing sent", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const src = tmp();
  writeFileSync(join(src, "x.txt"), "x");
  const received = new Receiver(r.conn, { dir: tmp(), decide: async () => true }).receiveOne().then((x) => x, (e: unknown) => e);
  const err = await sendFiles(s.conn, { to: r.conn.id, files: await collectFiles([join(src, "x.txt")]), confirmCode: () => new Promise<string>(() => {}) })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(isSfxError(err, "SFX_TRANSFER_FAILED"), String(err));
  assert.match((err as Error).message, /^No code was typed within the server's idle timeout \(1 s\): it ended the exchange, with nothing sent$/);
  await received;
}, { idleTimeoutMs: 600 });

harnessed("confirmCode: the receiver's time counts from the first byte, not the minute a sender took to type the code", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const src = tmp();
  writeFileSync(join(src, "x.txt"), "x");
  let code: string | undefined;
  const received = new Receiver(r.conn, { dir: tmp(), decide: async () => true, onEvent: (e) => void (e.event === "verify" && (code = e.code)) }).receiveOne();
  await sendFiles(s.conn, {
    to: r.conn.id,
    files: await collectFiles([join(src, "x.txt")]),
    // Typed after a second and a half.
    confirmCode: async () => (await new Promise((res) => setTimeout(res, 1500)), await until(() => code !== undefined, 1000), code),
  });
  const got = await received;
  assert.ok(got.accepted);
  assert.ok(got.seconds < 1, `${got.seconds} s`);
});

test.run();
