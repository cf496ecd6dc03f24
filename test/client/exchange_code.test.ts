/**
 * Exchanges keyed with the receiver's code (src/protocol/exchange_code.ts), through the in-memory
 * server: the code's secret digits never reach the server, a wrong code or a guess gets no byte,
 * guesses are counted, and a code removed on the way is noticed.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Receiver } from "../../src/client/receive.ts";
import { sendFiles } from "../../src/client/send.ts";
import { collectFiles } from "../../src/client/walk.ts";
import type { TransferEvent } from "../../src/client/events.ts";
import { isSfxError } from "../../src/errors.ts";
import { ExchangeKeyPair } from "../../src/protocol/exchange_crypto.ts";
import { codeRun, ExchangeCode, MAX_CODE_MISSES, MAX_CODE_MISSES_IN_ALL, parseReceiverTarget } from "../../src/protocol/exchange_code.ts";
import { Accept, ErrorMessage, Key, Offer, Start } from "../../src/protocol/index.ts";
import type { AnyMessage } from "../../src/protocol/registry.ts";
import { harnessed } from "../pairing/_harness.ts";
import { tempDirs } from "../_temp.ts";
import { refused } from "../_refused.ts";

const tmp = tempDirs(test, "sfx-rcode-");

/** A file to send, and where it is. */
async function source(text = "the minutes of the board, not for the server\n".repeat(2000)) {
  const src = tmp();
  writeFileSync(join(src, "minutes.txt"), text);
  return { text, files: await collectFiles([join(src, "minutes.txt")]) };
}

test("a code is the ID and six digits, in groups of three; an ID alone has none; anything else is refused", () => {
  const code = new ExchangeCode("305117");
  assert.is(code.format("482913"), "482-913-305-117");
  assert.equal(parseReceiverTarget("482-913-305-117"), { id: "482913", secret: "305117" });
  assert.equal(parseReceiverTarget(" 482 913 305117 "), { id: "482913", secret: "305117" });
  assert.equal(parseReceiverTarget("482 913"), { id: "482913" });
  // A code with a digit or a group dropped is no other ID.
  const refusals: Array<[string, RegExp]> = [
    ["", /not digits/], ["12", /2 digits, where a code has 12 and an ID 6/], ["482-913-305-11", /11 digits/], ["482-913-305", /9 digits/],
    ["482-913-305-11x", /not digits/], ["1".repeat(16), /16 digits/], ["482913/305117", /not digits/],
  ];
  for (const [bad, why] of refusals) refused(() => parseReceiverTarget(bad), why);
  assert.match(new ExchangeCode().secret, /^\d{6}$/);
});

harnessed("sent with the receiver's code: the files arrive, both ends say the exchange is keyed with it, and the server never sees the secret digits", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { text, files } = await source();
  const code = new ExchangeCode();
  const control: string[] = [];
  // Every control message the server relays to either end, as it is on the way.
  s.conn.onMessage((m) => void control.push(JSON.stringify(m)));
  r.conn.onMessage((m) => void control.push(JSON.stringify(m)));
  const events: Record<string, TransferEvent[]> = { sender: [], receiver: [] };
  const dir = tmp();
  let asked: boolean | undefined;
  const [got] = await Promise.all([
    new Receiver(r.conn, { dir, code, decide: async (o) => ((asked = o.byCode), true), onEvent: (e) => void events.receiver.push(e) }).receiveOne(),
    sendFiles(s.conn, { to: code.format(r.conn.id), files, onEvent: (e) => void events.sender.push(e) }),
  ]);
  assert.ok(got.accepted);
  assert.is(readFileSync(join(dir, "minutes.txt"), "utf8"), text);
  assert.is(asked, true, "the receiver is told the offer used its code");
  for (const who of ["sender", "receiver"]) {
    const verify = events[who].find((e) => e.event === "verify") as { byCode?: boolean } | undefined;
    assert.is(verify?.byCode, true, who);
  }
  assert.not.ok(control.some((m) => m.includes(code.secret)), "the secret digits are in no message the server relays");
});

harnessed("a wrong code gets no byte: the sender refuses before sending (SFX_INTEGRITY), the receiver is told; after three such offers the receiver makes a new code, and the old one no longer works", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { files } = await source();
  const code = new ExchangeCode("305117");
  const events: TransferEvent[] = [];
  const receiver = new Receiver(r.conn, { dir: tmp(), code, decide: async () => true, onEvent: (e) => void events.push(e) });
  const relayed: Uint8Array[] = [];
  r.conn.onData((_stream, d) => void relayed.push(d));
  for (let i = 0; i < MAX_CODE_MISSES; i++) {
    const [got, sent] = await Promise.all([
      receiver.receiveOne().then((x) => x, (e: unknown) => e),
      sendFiles(s.conn, { to: `${r.conn.id}305118`, files }).then(() => undefined, (e: unknown) => e),
    ]);
    assert.ok(isSfxError(sent, "SFX_INTEGRITY"), String(sent));
    assert.match((sent as Error).message, /the code you gave is not the receiver's.*No byte of the files was sent/);
    assert.ok(isSfxError(got, "SFX_CANCELLED"), `the receiver hears the sender's cancel: ${got}`);
    assert.match((got as Error).message, /not this receiver's/);
  }
  assert.equal(relayed, [], "not a byte relayed");
  // Each miss is said, then the renewal; no start is said for attempts that never proved the code.
  assert.equal(events.filter((e) => e.event === "codeMissed" || e.event === "code").map((e) => e.event === "code" ? "code" : (e as { misses: number }).misses), [1, 2, "code"]);
  assert.not.ok(events.some((e) => e.event === "start"), "nothing started");
  const renewed = events.filter((e) => e.event === "code") as Array<{ code: string }>;
  assert.is(renewed.length, 1, "renewed once, after the third miss");
  assert.is.not(code.secret, "305117");
  assert.is(renewed[0].code, code.format(r.conn.id));
  // The old digits, right this time, no longer open it.
  const [, old] = await Promise.all([
    receiver.receiveOne().then((x) => x, (e: unknown) => e),
    sendFiles(s.conn, { to: `${r.conn.id}305117`, files }).then(() => undefined, (e: unknown) => e),
  ]);
  assert.ok(isSfxError(old, "SFX_INTEGRITY"), String(old));
  const dir = tmp();
  const [ok] = await Promise.all([
    new Receiver(r.conn, { dir, code, decide: async () => true }).receiveOne(),
    sendFiles(s.conn, { to: code.format(r.conn.id), files }),
  ]);
  assert.ok(ok.accepted);
  assert.equal(readdirSync(dir), ["minutes.txt"]);
});

test("misses renew the secret every three, and close the code after nine in all: guesses are bounded, not only spread over secrets", () => {
  const code = new ExchangeCode("305117");
  const seen = [code.secret];
  const misses = Array.from({ length: MAX_CODE_MISSES_IN_ALL }, () => {
    const miss = code.missed();
    seen.push(code.secret);
    return miss;
  });
  assert.equal(misses, ["counted", "counted", "renewed", "counted", "counted", "renewed", "counted", "counted", "closed"]);
  assert.is(new Set(seen).size, 3, "two renewals, each a new secret");
  assert.ok(code.closed);
});

harnessed("a receiver whose code is closed refuses offers that use a code, before asking; offers to its ID alone still come; a guesser's misses close it with a codeClosed event", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { files } = await source("x");
  const code = new ExchangeCode("305117");
  const events: TransferEvent[] = [];
  let asked = 0;
  const receiver = new Receiver(r.conn, { dir: tmp(), code, decide: async () => (asked++, true), onEvent: (e) => void events.push(e) });
  for (let i = 0; i < MAX_CODE_MISSES_IN_ALL; i++) {
    await Promise.all([
      receiver.receiveOne().catch(() => {}),
      sendFiles(s.conn, { to: `${r.conn.id}000000`, files }).catch(() => {}),
    ]);
  }
  assert.ok(code.closed);
  assert.equal(events.filter((e) => e.event === "code" || e.event === "codeClosed").map((e) => e.event), ["code", "code", "codeClosed"]);
  asked = 0;
  const [got, refused] = await Promise.all([
    receiver.receiveOne(),
    sendFiles(s.conn, { to: code.format(r.conn.id), files }).then(() => undefined, (e: unknown) => e),
  ]);
  assert.is(got.accepted, false);
  assert.is(asked, 0, "not asked");
  assert.match(String((refused as Error).message), /takes no code any more: too many offers gave a wrong one/);
  const [byId] = await Promise.all([receiver.receiveOne(), sendFiles(s.conn, { to: r.conn.id, files })]);
  assert.ok(byId.accepted);
});

harnessed("with the receiver's code, confirmCode (send --verify) is not asked: the receiver proved the code and shows no verification code to compare", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { files } = await source("y");
  const code = new ExchangeCode();
  let asked = false;
  const sent: TransferEvent[] = [];
  const [got] = await Promise.all([
    new Receiver(r.conn, { dir: tmp(), code, decide: async () => true }).receiveOne(),
    sendFiles(s.conn, { to: code.format(r.conn.id), files, confirmCode: async () => ((asked = true), undefined), onEvent: (e) => void sent.push(e) }),
  ]);
  assert.ok(got.accepted);
  assert.not.ok(asked);
  assert.is((sent.find((e) => e.event === "verify") as { byCode?: boolean }).byCode, true);
});

harnessed("someone between them who guesses the digits wrong, posing as the sender, gets the receiver's accept but cannot prove the code: the receiver fails SFX_INTEGRITY and keeps nothing", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const code = new ExchangeCode("305117");
  const dir = tmp();
  const got = new Receiver(r.conn, { dir, code, decide: async () => true }).receiveOne().then((x) => x, (e: unknown) => e);
  const keys = ExchangeKeyPair.generate();
  const offered = [{ path: "a.bin", size: 3 }];
  const guess = codeRun("000000", r.conn.id, keys.commitment, offered, "sender");
  const started = s.conn.waitFor((m) => Start.is(m)) as Promise<AnyMessage & { pake?: string; confirm?: string }>;
  s.conn.sendControl(Offer.encode({ xid: 5, to: r.conn.id, files: offered, commit: keys.commitment, pake: guess.share }));
  const start = await started;
  const mine = guess.finish(start.pake!);
  assert.not.ok(mine.checkTag(start.confirm), "the receiver's tag does not check under the guess");
  const told = s.conn.waitFor((m) => ErrorMessage.is(m));
  s.conn.sendControl(Key.encode({ xid: 5, key: keys.publicKey, confirm: mine.tag }));
  const err = await got;
  assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  assert.match((err as Error).message, /did not prove it holds your code/);
  assert.match(String((await told as { message?: string }).message), /did not prove it holds your code/);
  assert.equal(readdirSync(dir), []);
});

harnessed("a receiver that cancels between its accept and the sender's key (Ctrl-C) counts no miss: no one guessed", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const code = new ExchangeCode("305117");
  const events: TransferEvent[] = [];
  const stop = new AbortController();
  const got = new Receiver(r.conn, { dir: tmp(), code, decide: async () => true, onEvent: (e) => void events.push(e) })
    .receiveOne(stop.signal).then((x) => x, (e: unknown) => e);
  const keys = ExchangeKeyPair.generate();
  const offered = [{ path: "a.bin", size: 3 }];
  const run = codeRun("305117", r.conn.id, keys.commitment, offered, "sender");
  const started = s.conn.waitFor((m) => Start.is(m));
  s.conn.sendControl(Offer.encode({ xid: 5, to: r.conn.id, files: offered, commit: keys.commitment, pake: run.share }));
  await started; // the receiver has answered with its tag; the sender's key is not sent
  stop.abort();
  assert.ok(isSfxError(await got, "SFX_CANCELLED"), String(await got));
  assert.is(code.missesInAll, 0);
  assert.not.ok(events.some((e) => e.event === "codeMissed"), JSON.stringify(events.map((e) => e.event)));
});

harnessed("a code removed on the way: a receiver whose answer does not use it fails the send (SFX_PROTOCOL) before a byte goes; an offer with a code to a receiver without one is refused", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { files } = await source();
  const offered = r.conn.waitFor((m) => Offer.is(m)) as Promise<AnyMessage & { xid: number; pake?: string }>;
  const sent = sendFiles(s.conn, { to: `${r.conn.id}305117`, files }).then(() => undefined, (e: unknown) => e);
  const offer = await offered;
  assert.match(offer.pake ?? "", /^[0-9a-f]{64}$/, "the offer carries the sender's share");
  const data: Uint8Array[] = [];
  r.conn.onData((_stream, d) => void data.push(d));
  r.conn.sendControl(Accept.encode({ xid: offer.xid, key: ExchangeKeyPair.generate().publicKey }));
  const err = await sent;
  assert.ok(isSfxError(err, "SFX_PROTOCOL"), String(err));
  assert.match((err as Error).message, /does not use the code you gave, so nothing was sent/);
  assert.equal(data, []);

  const events: TransferEvent[] = [];
  const [got, refused] = await Promise.all([
    new Receiver(r.conn, { dir: tmp(), decide: async () => true, onEvent: (e) => void events.push(e) }).receiveOne(),
    sendFiles(s.conn, { to: `${r.conn.id}305117`, files }).then(() => undefined, (e: unknown) => e),
  ]);
  assert.is(got.accepted, false);
  assert.match(String((refused as Error).message), /^The receiver's sfx refused the offer: This receiver takes no code/);
  assert.not.match(String((refused as Error).message), /ID alone/, "no advice a server could forge to talk the sender out of the code");
});

harnessed("an ID alone, to a receiver with a code: the offer is marked as not using it, and the exchange goes as before, with the verification code to compare", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { files } = await source("x");
  const events: TransferEvent[] = [];
  let asked: boolean | undefined;
  const [got] = await Promise.all([
    new Receiver(r.conn, { dir: tmp(), code: new ExchangeCode(), decide: async (o) => ((asked = o.byCode), true), onEvent: (e) => void events.push(e) }).receiveOne(),
    sendFiles(s.conn, { to: r.conn.id, files }),
  ]);
  assert.ok(got.accepted);
  assert.is(asked, false);
  const verify = events.find((e) => e.event === "verify") as { byCode?: boolean; code: string };
  assert.match(verify.code, /^\d{3}-\d{3}$/);
  assert.is(verify.byCode, undefined);
  assert.not.ok(events.some((e) => e.event === "code"), "a sender that gave no code is no miss");
});

test.run();
