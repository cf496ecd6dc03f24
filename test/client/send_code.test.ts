/**
 * Sending by the sender's code (`sfx send f` shows it, `sfx receive <code>` types it), through the
 * in-memory server: the receiver pulls, the sender offers keyed with its code, a wrong code gets no
 * byte and is counted, a stranger's pull cannot end the send, and the server refuses pulls it
 * cannot pass on.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Receiver, receiveByCode } from "../../src/client/receive.ts";
import { sendByCode, type SendByCodeOptions, sendFiles, type SendResult } from "../../src/client/send.ts";
import { collectFiles } from "../../src/client/walk.ts";
import type { TransferEvent } from "../../src/client/events.ts";
import { isSfxError } from "../../src/errors.ts";
import { ExchangeCode, MAX_CODE_MISSES, MAX_CODE_MISSES_IN_ALL, parseSenderCode, pullRun } from "../../src/protocol/exchange_code.ts";
import { Busy, CONTROL_PPID, Offer, Pull, Pullable, PullProof, PullShare, Reject } from "../../src/protocol/index.ts";
import type { AnyMessage } from "../../src/protocol/registry.ts";
import { ExchangeKeyPair } from "../../src/protocol/exchange_crypto.ts";
import { harnessed, startHarness, until, within } from "../pairing/_harness.ts";
import type { ClientConnection } from "../../src/client/connection.ts";
import { PULL_ANSWER_MS } from "../../src/protocol/defaults.ts";
import { UNKNOWN_ID_BURST } from "../../src/pairing/defaults.ts";
import { tempDirs } from "../_temp.ts";
import { refused, rejects } from "../_refused.ts";

const tmp = tempDirs(test, "sfx-scode-");

async function source(text = "the quarter's figures, for one receiver only\n".repeat(2000)) {
  const src = tmp();
  writeFileSync(join(src, "figures.txt"), text);
  return { text, files: await collectFiles([join(src, "figures.txt")]) };
}

/** sendByCode, once the sender takes pulls (its first `code` event, when a user is shown the code): the send's promise. */
async function sendingByCode(conn: ClientConnection, opts: SendByCodeOptions): Promise<{ done: Promise<SendResult & { to: string }> }> {
  let ready!: () => void;
  const shown = new Promise<void>((resolve) => (ready = resolve));
  const done = sendByCode(conn, {
    ...opts,
    onEvent: (e) => {
      if (e.event === "code") ready();
      opts.onEvent?.(e);
    },
  });
  done.catch(() => {});
  await Promise.race([shown, done]);
  return { done };
}

/** What a promise settled with: its value, or its error. */
const settled = <T>(p: Promise<T>): Promise<T | unknown> => p.then((x) => x, (e: unknown) => e);

test("a sender's code is always whole: an ID alone, or a code with a digit missing, is refused as such", () => {
  assert.equal(parseSenderCode("482-913-305-117"), { id: "482913", secret: "305117" });
  assert.equal(parseSenderCode(" 482 913 305117 "), { id: "482913", secret: "305117" });
  const refusals: Array<[string, RegExp]> = [["482 913", /an ID alone/], ["482-913-305-11", /11 digits, where a code has 12/], ["482-913-305-11x", /not digits/], ["", /not digits/]];
  for (const [bad, why] of refusals) {
    refused(() => parseSenderCode(bad), why);
    refused(() => parseSenderCode(bad), /'sfx send' shows/);
  }
});

harnessed("the receiver types the sender's code and gets the files, keyed with it: both ends say so, the receiver is asked as for any offer, and the server never sees the secret digits", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { text, files } = await source();
  const code = new ExchangeCode();
  // Every control message either end sends the server, and every one the server sends either end.
  const control: string[] = [];
  for (const c of [s, r]) {
    c.conn.onMessage((m) => void control.push(JSON.stringify(m)));
    const send = c.fake.send.bind(c.fake);
    c.fake.send = (stream, data, opts) => {
      if (stream === 0) control.push(new TextDecoder().decode(data));
      return send(stream, data, opts);
    };
  }
  const events: Record<string, TransferEvent[]> = { sender: [], receiver: [] };
  const dir = tmp();
  let asked: { from: string; byCode?: boolean } | undefined;
  const { done: sending } = await sendingByCode(s.conn, { code, files, onEvent: (e) => void events.sender.push(e) });
  const got = await receiveByCode(r.conn, code.format(s.conn.id), {
    dir,
    decide: async (o) => ((asked = o), true),
    onEvent: (e) => void events.receiver.push(e),
  });
  const sent = await sending;
  assert.ok(got.accepted);
  assert.is(got.from, s.conn.id);
  assert.is(sent.to, r.conn.id, "the send says who got the files");
  assert.is(readFileSync(join(dir, "figures.txt"), "utf8"), text);
  assert.is(asked?.from, s.conn.id);
  assert.is(asked?.byCode, true, "the receiver is told the offer uses the code it typed");
  for (const who of ["sender", "receiver"]) {
    const verify = events[who].find((e) => e.event === "verify") as { byCode?: boolean } | undefined;
    assert.is(verify?.byCode, true, who);
  }
  assert.equal(events.sender.filter((e) => e.event === "pulled"), [{ event: "pulled", from: r.conn.id }]);
  assert.ok(control.some((m) => m.includes('"type":"pull.proof"')), "both ways seen");
  assert.not.ok(control.some((m) => m.includes(code.secret)), "the secret digits are in no message the server gets or sends");
  // Over: the sender no longer takes pulls.
  await rejects(receiveByCode((await h.client()).conn, code.format(s.conn.id), { dir: tmp(), decide: async () => true }), "SFX_UNKNOWN_ID", /not sending by a code/);
});

harnessed("a wrong code gets nothing, not even the files' names: the receiver is told the code is wrong (SFX_BAD_CODE), the sender counts it and waits on; after three the code changes and the old one no longer works; the right one then works", async (h) => {
  const s = await h.client();
  const { text, files } = await source();
  const code = new ExchangeCode("305117");
  const events: TransferEvent[] = [];
  const sending = settled((await sendingByCode(s.conn, { code, files, onEvent: (e) => void events.push(e) })).done);
  const offers: AnyMessage[] = [];
  for (let i = 0; i < MAX_CODE_MISSES; i++) {
    const r = await h.client();
    r.conn.onMessage((m) => void (Offer.is(m) && offers.push(m)));
    const dir = tmp();
    await rejects(receiveByCode(r.conn, `${s.conn.id}305118`, { dir, decide: async () => true }), "SFX_BAD_CODE", /^Wrong code: \d{3}-\d{3}-305-118 is not the code client .* shows.*Nothing was received/);
    assert.equal(readdirSync(dir), []);
  }
  assert.equal(offers, [], "no offer, so no name, reached a receiver with a wrong code");
  // The server's log says each, with the receiver's address: an admin sees guessing.
  assert.is(h.logs.filter((l) => /^Pull from .*127\.0\.0\.1.* to .*: refused by the sender \(SFX_BAD_CODE\)$/.test(l.message)).length, MAX_CODE_MISSES);
  await until(() => events.filter((e) => e.event === "code").length === 2, 3000, "the renewal");
  // The code said once the sender takes pulls, then each miss, then the renewal.
  assert.equal(events.filter((e) => e.event === "codeMissed" || e.event === "code").map((e) => e.event === "code" ? "code" : (e as { misses: number }).misses), ["code", 1, 2, "code"]);
  assert.not.ok(events.some((e) => e.event === "error" || e.event === "offer"), JSON.stringify(events.map((e) => e.event)));
  assert.is.not(code.secret, "305117");
  await rejects(receiveByCode((await h.client()).conn, `${s.conn.id}305117`, { dir: tmp(), decide: async () => true }), "SFX_BAD_CODE");
  const dir = tmp();
  const r = await h.client();
  const got = await receiveByCode(r.conn, code.format(s.conn.id), { dir, decide: async () => true });
  assert.ok(got.accepted);
  assert.is(readFileSync(join(dir, "figures.txt"), "utf8"), text);
  assert.is((await sending as { to: string }).to, r.conn.id);
});

harnessed("nine wrong codes in all close the sender's code: its send fails (SFX_INTEGRITY), with nothing sent", async (h) => {
  const s = await h.client();
  const { files } = await source("x");
  const code = new ExchangeCode("305117");
  const events: TransferEvent[] = [];
  const sending = settled((await sendingByCode(s.conn, { code, files, onEvent: (e) => void events.push(e) })).done);
  for (let i = 0; i < MAX_CODE_MISSES_IN_ALL; i++) {
    // Never the code's digits, whatever they are renewed to.
    const wrong = String((Number(code.secret) + 1) % 1e6).padStart(6, "0");
    await rejects(receiveByCode((await h.client()).conn, `${s.conn.id}${wrong}`, { dir: tmp(), decide: async () => true }), "SFX_BAD_CODE");
  }
  const err = await sending;
  assert.ok(isSfxError(err, "SFX_INTEGRITY"), String(err));
  assert.match((err as Error).message, /Too many receivers typed a wrong code.*Nothing was sent/);
  assert.ok(code.closed);
  assert.equal(events.filter((e) => e.event === "codeClosed" || e.event === "error").map((e) => e.event), ["codeClosed", "error"]);
  // Closed, it takes no pulls.
  await rejects(receiveByCode((await h.client()).conn, code.format(s.conn.id), { dir: tmp(), decide: async () => true }), "SFX_UNKNOWN_ID");
});

/** A pull as a stranger makes it, who knows the ID but not the code (a share over other digits); resolves with the server's first answer to it. */
async function strangersPull(conn: ClientConnection, to: string, xid = 1): Promise<AnyMessage> {
  const run = pullRun("000000", { senderId: to, receiverId: conn.id }, "ab".repeat(32), "receiver");
  const answer = conn.waitFor((m) => m.xid === xid);
  conn.send(Pull, { xid, to, pake: run.share, sid: run.sid });
  return await answer;
}

harnessed("strangers who pull and never prove the code, or leave, learn nothing of the files and cannot end the send; none is counted as a guess; the next receiver gets the files", async (h) => {
  const s = await h.client({ remoteAddress: "192.0.2.1" });
  const { text, files } = await source();
  const code = new ExchangeCode();
  const events: TransferEvent[] = [];
  const { done: sending } = await sendingByCode(s.conn, { code, files, proofMs: 100, onEvent: (e) => void events.push(e) });
  const offers: AnyMessage[] = [];
  // One says nothing after the sender's share: the sender gives up on it after its proof time.
  const silent = await h.client({ remoteAddress: "198.51.100.7" });
  silent.conn.onMessage((m) => void (Offer.is(m) && offers.push(m)));
  assert.ok(PullShare.is(await strangersPull(silent.conn, s.conn.id)), "the sender answers with its share, and nothing more");
  await until(() => events.some((e) => e.event === "pullFailed"), 3000, "the sender to give up on the silent one");
  // Twenty-five more pull and leave at once: no offer goes to a gone ID (the sender's address is charged nothing).
  for (let i = 0; i < 25; i++) {
    const gone = await h.client({ remoteAddress: "198.51.100.7" });
    gone.conn.onMessage((m) => void (Offer.is(m) && offers.push(m)));
    const answer = await strangersPull(gone.conn, s.conn.id);
    assert.ok(PullShare.is(answer) || Busy.is(answer), JSON.stringify(answer));
    await gone.conn.abort("left");
  }
  assert.equal(offers, [], "no stranger got an offer");
  assert.is(code.missesInAll, 0, "no stranger's pull was a guess");
  const dir = tmp();
  const r = await h.client();
  await until(() => (events.at(-1) as { event: string }).event === "pullFailed", 3000, "the sender done with the last stranger");
  const got = await receiveByCode(r.conn, code.format(s.conn.id), { dir, decide: async () => true });
  assert.ok(got.accepted);
  assert.is(readFileSync(join(dir, "figures.txt"), "utf8"), text);
  assert.is((await sending).to, r.conn.id);
  assert.match(String((events.find((e) => e.event === "pullFailed") as { message?: string }).message), /did not prove the code within 0\.1 s/);
});

harnessed("a receiver that proved the code and declines ends the send, as a decline of sfx send --to does (SFX_REJECTED)", async (h) => {
  const s = await h.client();
  const { files } = await source("x");
  const code = new ExchangeCode();
  const sending = settled((await sendingByCode(s.conn, { code, files })).done);
  const declined = await receiveByCode((await h.client()).conn, code.format(s.conn.id), { dir: tmp(), decide: async () => false });
  assert.is(declined.accepted, false);
  assert.ok(isSfxError(await sending, "SFX_REJECTED"), String(await sending));
});

harnessed("the server refuses pulls it cannot pass on: an ID nobody holds, a client that is not sending by a code (a receiver's code typed by mistake), one busy with another receiver; the client refuses its own code", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const { files } = await source("x");
  const opts = { dir: tmp(), decide: async () => true };
  await rejects(receiveByCode(r.conn, "999999305117", opts), "SFX_UNKNOWN_ID", /No client with ID 999 999/);
  // A receiver shows a code too: typed into sfx receive, it is refused with the way round.
  const receiving = new ExchangeCode();
  await rejects(receiveByCode(r.conn, receiving.format(s.conn.id), opts), "SFX_UNKNOWN_ID", /not sending by a code.*typed into 'sfx send --to'/);
  await rejects(receiveByCode(s.conn, `${s.conn.id}305117`, opts), "SFX_BAD_ARGUMENT");
  // Busy: the first receiver is being asked; a second one's pull is refused at once.
  const code = new ExchangeCode();
  const sending = settled((await sendingByCode(s.conn, { code, files })).done);
  let release = (_: boolean) => {};
  const first = receiveByCode(r.conn, code.format(s.conn.id), { dir: tmp(), decide: () => new Promise((go) => (release = go)) });
  await until(() => h.logs.some((l) => /Exchange #\d+: offer from/.test(l.message)), 3000, "the sender's offer");
  await rejects(receiveByCode((await h.client()).conn, code.format(s.conn.id), { dir: tmp(), decide: async () => true }), "SFX_PEER_BUSY", /is sending its files to another receiver, one that proved its code/);
  release(true);
  assert.ok((await first).accepted);
  assert.is((await sending as { to: string }).to, r.conn.id);
});

harnessed("a receiver fetching by a code refuses other clients' offers meanwhile, and still gets the sender's", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const other = await h.client();
  const { text, files } = await source();
  const code = new ExchangeCode();
  const dir = tmp();
  const events: TransferEvent[] = [];
  // A client that sends by its code and has not answered yet: the receiver waits for its share.
  s.conn.send(Pullable, { on: true });
  const pulled = s.conn.waitFor((m) => Pull.is(m));
  const fetching = receiveByCode(r.conn, code.format(s.conn.id), { dir, decide: async () => true, onEvent: (e) => void events.push(e) });
  const pull = await pulled;
  const intruder = settled(sendFiles(other.conn, { to: r.conn.id, files }));
  // Now the sender answers: a send by code, handed the pull again as the server passed it on.
  const sending = sendByCode(s.conn, { code, files });
  s.serverSide.send(0, Pull.encode(pull as unknown as Parameters<typeof Pull.encode>[0]), { ppid: CONTROL_PPID });
  const got = await fetching;
  assert.ok(got.accepted);
  assert.is(readFileSync(join(dir, "figures.txt"), "utf8"), text);
  assert.is((await sending).to, r.conn.id);
  const refused = await intruder;
  assert.ok(isSfxError(refused, "SFX_REJECTED"), String(refused));
  assert.match((refused as Error).message, /fetching client .*'s files/);
  const rejected = events.find((e) => e.event === "rejected") as { from?: string } | undefined;
  assert.is(rejected?.from, other.conn.id);
});

/** A sender by code played by hand: answers the next pull with its share over `secret`, and resolves with the pull and the keys once the receiver's proof checks. */
async function handSender(s: { conn: ClientConnection }, secret: string) {
  const pull = await s.conn.waitFor((m) => Pull.is(m)) as AnyMessage & { from: string; pake: string; sid: string };
  const run = pullRun(secret, { senderId: s.conn.id, receiverId: pull.from }, pull.sid, "sender");
  const keys = run.finish(pull.pake);
  const proof = s.conn.waitFor((m) => PullProof.is(m)) as Promise<AnyMessage & { confirm: string }>;
  s.conn.send(PullShare, { to: pull.from, sid: pull.sid, pake: run.share });
  assert.ok(keys.checkTag((await proof).confirm), "the receiver proved the code");
  return { pull, keys };
}

harnessed("an offer from the sender that does not prove the code (no tag, or another run's) is refused (changed on the way): the fetch ends with it, saying why", async (h) => {
  const s = await h.client();
  const r = await h.client();
  const code = new ExchangeCode();
  s.conn.send(Pullable, { on: true });
  const events: TransferEvent[] = [];
  const fetching = receiveByCode(r.conn, code.format(s.conn.id), { dir: tmp(), decide: async () => true, onEvent: (e) => void events.push(e) });
  const { pull } = await handSender(s, code.secret);
  const keys = ExchangeKeyPair.generate();
  const answered = s.conn.waitFor((m) => Reject.is(m));
  // The tag of another run over the same code: not this one's.
  const other = pullRun(code.secret, { senderId: s.conn.id, receiverId: pull.from }, "cd".repeat(32), "sender").finish(pullRun(code.secret, { senderId: s.conn.id, receiverId: pull.from }, "cd".repeat(32), "receiver").share);
  s.conn.sendControl(Offer.encode({ xid: 5, to: r.conn.id, files: [{ path: "a.bin", size: 3 }], commit: keys.commitment, confirm: other.tag }));
  const why = /by its code, and this offer does not prove it/;
  assert.match(String((await within(answered, 5000, "the refusal") as { reason?: string }).reason), why);
  const got = await within(fetching, 5000, "the fetch to end");
  assert.is(got.accepted, false);
  assert.is(got.from, s.conn.id);
  assert.match(String((events.find((e) => e.event === "rejected") as { reason?: string } | undefined)?.reason), why);
});

harnessed("a server (or a client) that knows nothing of the code and sends the receiver's own share back gets no proof it can pass off as the sender's: the fetch fails, and no offer is shown", async (h) => {
  const s = await h.client();
  const r = await h.client();
  s.conn.send(Pullable, { on: true });
  let asked = false;
  const fetching = settled(receiveByCode(r.conn, `${s.conn.id}305117`, { dir: tmp(), decide: async () => (asked = true) }));
  const pull = await s.conn.waitFor((m) => Pull.is(m)) as AnyMessage & { from: string; pake: string; sid: string };
  const proofs: AnyMessage[] = [];
  s.conn.onMessage((m) => void (PullProof.is(m) && proofs.push(m)));
  s.conn.send(PullShare, { to: pull.from, sid: pull.sid, pake: pull.pake });
  const got = await within(fetching, 5000, "the fetch to end");
  assert.ok(isSfxError(got, "SFX_PROTOCOL"), String(got));
  assert.match((got as Error).message, /own, sent back/);
  assert.equal(proofs, [], "no tag went out");
  assert.not.ok(asked);
});

for (const [how, end, said] of [
  ["leaves", (c: ClientConnection) => c.abort("gone"), /left before it answered your pull/],
  ["stops sending by its code", (c: ClientConnection) => c.send(Pullable, { on: false }), /stopped sending by its code before it answered your pull/],
] as const) {
  harnessed(`a sender that ${how} with a pull to answer: the receiver is told at once, not after its wait`, async (h) => {
    const s = await h.client();
    const r = await h.client();
    s.conn.send(Pullable, { on: true });
    const pulled = s.conn.waitFor((m) => Pull.is(m));
    const fetching = rejects(receiveByCode(r.conn, `${s.conn.id}305117`, { dir: tmp(), decide: async () => true }), "SFX_TRANSFER_FAILED", said);
    await pulled;
    await end(s.conn);
    await within(fetching, 5000, `the receiver to hear the sender ${how}`);
  });
}

harnessed("a sender's offer to a receiver that pulled and left since is no guess of an ID: past the burst of those, its offers are still answered, not refused for a while", async (h) => {
  // An address of its own: what its offers are charged to is the sender's alone.
  const s = await h.client({ remoteAddress: "192.0.2.1" });
  s.conn.send(Pullable, { on: true });
  const keys = ExchangeKeyPair.generate();
  for (let i = 0; i <= UNKNOWN_ID_BURST; i++) {
    const r = await h.client();
    const pulled = s.conn.waitFor((m) => Pull.is(m));
    r.conn.send(Pull, { xid: 1, to: s.conn.id, pake: "11".repeat(32), sid: "22".repeat(32) });
    await pulled;
    await r.conn.abort("left");
    await until(() => h.service.sessions.lookup(r.conn.id) === undefined, 3000, "the receiver gone");
    const xid = 5 + 4 * i;
    const answer = s.conn.waitFor((m) => m.xid === xid);
    s.conn.sendControl(Offer.encode({ xid, to: r.conn.id, files: [{ path: "a.bin", size: 3 }], commit: keys.commitment, confirm: "ab".repeat(32) }));
    assert.is((await answer as { code?: string }).code, "SFX_UNKNOWN_ID", `offer ${i}`);
  }
});

harnessed("an offer made for a fetch, reaching a receiver that is not fetching (its fetch was cancelled), is refused before anyone is asked", async (h) => {
  const s = await h.client();
  const r = await h.client();
  let asked = false;
  const receiving = new Receiver(r.conn, { dir: tmp(), code: new ExchangeCode(), decide: async () => (asked = true) }).receiveOne();
  const keys = ExchangeKeyPair.generate();
  const answered = s.conn.waitFor((m) => Reject.is(m));
  s.conn.sendControl(Offer.encode({ xid: 5, to: r.conn.id, files: [{ path: "a.bin", size: 3 }], commit: keys.commitment, confirm: "ab".repeat(32) }));
  assert.match(String((await within(answered, 5000, "the refusal") as { reason?: string }).reason), /takes no code of a sender's: it is fetching no files/);
  assert.is((await within(receiving, 5000, "the receive to end")).accepted, false);
  assert.not.ok(asked, "the user was not asked");
});

harnessed("a sender that says nothing after the pull: the receiver gives up after its answer time (SFX_OFFER_TIMEOUT), and says why", async (h) => {
  const s = await h.client();
  const r = await h.client();
  s.conn.send(Pullable, { on: true });
  await rejects(receiveByCode(r.conn, `${s.conn.id}305117`, { dir: tmp(), decide: async () => true, answerMs: 100 }), "SFX_OFFER_TIMEOUT", /did not answer within 0\.1 s of being asked/);
});

test("the server holds one pull per sender until it offers: a second receiver is busy meanwhile, and free to pull once the first left, or once the sender had its time to answer", async () => {
  let now = 1_000_000;
  const h = startHarness({}, {}, { now: () => now });
  try {
    const s = await h.client();
    s.conn.send(Pullable, { on: true });
    const pull = (conn: ClientConnection, xid: number) => {
      const answer = conn.waitFor((m) => m.xid === xid);
      conn.send(Pull, { xid, to: s.conn.id, pake: "11".repeat(32), sid: "22".repeat(32) });
      return answer;
    };
    const r1 = await h.client();
    const r2 = await h.client();
    const passed = s.conn.waitFor((m) => Pull.is(m));
    void pull(r1.conn, 1).catch(() => {});
    assert.is((await passed as { from?: string }).from, r1.conn.id);
    assert.ok(Busy.is(await pull(r2.conn, 3)), "busy while the first pull waits for the sender's offer");
    // The first receiver leaves: its pull no longer holds the sender.
    await r1.conn.abort("left");
    await until(() => h.service.sessions.lookup(r1.conn.id) === undefined, 3000, "the first receiver gone");
    const again = s.conn.waitFor((m) => Pull.is(m));
    void pull(r2.conn, 5).catch(() => {});
    assert.is((await again as { from?: string }).from, r2.conn.id);
    // The sender says nothing: once its time to answer has passed, the next receiver may pull.
    const r3 = await h.client();
    assert.ok(Busy.is(await pull(r3.conn, 7)));
    now += PULL_ANSWER_MS;
    const third = s.conn.waitFor((m) => Pull.is(m));
    void pull(r3.conn, 9).catch(() => {});
    assert.is((await third as { from?: string }).from, r3.conn.id);
  } finally {
    await h.close();
  }
});

test("the server passes the sender's answer on only for the pull it holds: a late share for an earlier pull of the same receiver (its session id) is not passed on as the new one's", async () => {
  let now = 1_000_000;
  const h = startHarness({}, {}, { now: () => now });
  try {
    const s = await h.client();
    const r = await h.client();
    s.conn.send(Pullable, { on: true });
    const shares: AnyMessage[] = [];
    r.conn.onMessage((m) => void (PullShare.is(m) && shares.push(m)));
    const first = s.conn.waitFor((m) => Pull.is(m));
    r.conn.send(Pull, { xid: 1, to: s.conn.id, pake: "11".repeat(32), sid: "aa".repeat(32) });
    await first;
    // The receiver gave up on it and pulls again once the server's hold is over.
    now += PULL_ANSWER_MS;
    const second = s.conn.waitFor((m) => Pull.is(m) && (m as { sid?: string }).sid === "bb".repeat(32));
    r.conn.send(Pull, { xid: 3, to: s.conn.id, pake: "11".repeat(32), sid: "bb".repeat(32) });
    await second;
    s.conn.send(PullShare, { to: r.conn.id, sid: "aa".repeat(32), pake: "33".repeat(32) });
    s.conn.send(PullShare, { to: r.conn.id, sid: "bb".repeat(32), pake: "44".repeat(32) });
    await until(() => shares.length > 0, 3000, "the share");
    // Ordered on the one stream: had the first been passed on, it would have come first.
    assert.equal(shares.map((m) => [m.xid, (m as { pake?: string }).pake]), [[3, "44".repeat(32)]]);
  } finally {
    await h.close();
  }
});

test("pulls to IDs that send by no code count as guessed IDs: past the burst, pulls from that address are refused for a while (SFX_LIMIT)", async () => {
  const h = startHarness();
  try {
    const r = await h.client();
    const codes: string[] = [];
    for (let i = 0; i <= UNKNOWN_ID_BURST; i++) {
      const xid = 1 + 2 * i;
      const answer = r.conn.waitFor((m) => m.xid === xid);
      r.conn.send(Pull, { xid, to: String(100000 + i), pake: "11".repeat(32), sid: "22".repeat(32) });
      codes.push((await answer as { code?: string }).code ?? "?");
    }
    assert.equal(codes.slice(0, UNKNOWN_ID_BURST), Array(UNKNOWN_ID_BURST).fill("SFX_UNKNOWN_ID"));
    assert.is(codes[UNKNOWN_ID_BURST], "SFX_LIMIT");
  } finally {
    await h.close();
  }
});

test.run();
