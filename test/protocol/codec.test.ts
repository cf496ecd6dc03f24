import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  Accept, Busy, Cancel, dataPpid, decodeMessage, defineMessage, Done, End, ErrorMessage, errorFromMessage, Hello,
  MAX_CONTROL_BYTES, messageTypes, nextExchangeId, nextReceiverExchangeId, nextShareRequestId, Offer, parseDataPpid, Ping, Pong, ProtocolError, Reject, retagPpid, Start, Welcome,
} from "../../src/protocol/index.ts";
import { cutMiddleUtf8, int, string } from "../../src/protocol/schema.ts";
import { fitText } from "../../src/protocol/messages.ts";
import "../../src/protocol/share.ts"; // registers the share.* messages

const enc = (s: string) => new TextEncoder().encode(s);
const sha = "ab".repeat(32);

const roundTrips: Array<[string, { encode(f: never): Uint8Array }, Record<string, unknown>]> = [
  ["hello", Hello, { protocol: 1, client: "sfx 0.1.0" }],
  ["welcome", Welcome, { protocol: 1, id: "482913", server: { name: "box", version: "0.1.0" }, limits: { maxFileSize: 10, maxFilesPerOffer: 5, offerTimeoutMs: 1, idleTimeoutMs: 2 } }],
  ["error", ErrorMessage, { code: "SFX_PEER_BUSY", message: "busy", xid: 3 }],
  ["ping", Ping, { n: 7 }],
  ["pong", Pong, { n: 7 }],
  ["offer (sender)", Offer, { xid: 1, to: "482913", files: [{ path: "a/b.txt", size: 12 }, { path: "stdin.bin", size: null }] }],
  ["offer (receiver)", Offer, { xid: 9, from: "111111", files: [{ path: "x", size: 0 }] }],
  ["accept", Accept, { xid: 1 }],
  ["reject", Reject, { xid: 1, reason: "no thanks" }],
  ["busy", Busy, { xid: 1 }],
  ["start", Start, { xid: 1 }],
  ["end", End, { xid: 1, file: 0, size: 12, sha256: sha }],
  ["done", Done, { xid: 1, files: 2, bytes: 12 }],
  ["cancel", Cancel, { xid: 1, reason: "Ctrl-C" }],
];

for (const [name, def, fields] of roundTrips) {
  test(`'${name}' survives encode → decode unchanged`, () => {
    const bytes = def.encode(fields as never);
    const msg = decodeMessage(bytes);
    const { type, ...rest } = msg;
    assert.is(type, (def as unknown as { type: string }).type);
    assert.equal(rest, fields);
  });
}

const rejects: Array<[string, Uint8Array, string]> = [
  ["not JSON", enc("{nope"), "not-json"],
  ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "not-json"],
  ["a JSON array", enc("[1,2]"), "not-an-object"],
  ["a JSON number", enc("42"), "not-an-object"],
  ["no type", enc('{"xid":1}'), "not-an-object"],
  ["a numeric type", enc('{"type":5}'), "not-an-object"],
  ["an unknown type", enc('{"type":"launch-missiles"}'), "unknown-type"],
  ["a missing field", enc('{"type":"accept"}'), "invalid"],
  ["an unknown field", enc('{"type":"accept","xid":1,"evil":true}'), "invalid"],
  ["a negative xid", enc('{"type":"accept","xid":-1}'), "invalid"],
  ["a fractional xid", enc('{"type":"accept","xid":1.5}'), "invalid"],
  ["a huge xid", enc('{"type":"accept","xid":1e300}'), "invalid"],
  ["a string xid", enc('{"type":"accept","xid":"1"}'), "invalid"],
  ["an offer without files", enc('{"type":"offer","xid":1,"files":[]}'), "invalid"],
  ["an offer with a size of -1", enc('{"type":"offer","xid":1,"files":[{"path":"a","size":-1}]}'), "invalid"],
  ["an offer with an empty path", enc('{"type":"offer","xid":1,"files":[{"path":"","size":1}]}'), "invalid"],
  ["an offer with a 5000-byte path", enc(`{"type":"offer","xid":1,"files":[{"path":"${"a".repeat(5000)}","size":1}]}`), "invalid"],
  ["an offer with 10,001 files", enc(`{"type":"offer","xid":1,"files":[${Array(10_001).fill('{"path":"a","size":1}').join(",")}]}`), "invalid"],
  ["an end with a short hash", enc('{"type":"end","xid":1,"file":0,"size":1,"sha256":"abc"}'), "invalid"],
  ["an end with upper-case hex", enc(`{"type":"end","xid":1,"file":0,"size":1,"sha256":"${"AB".repeat(32)}"}`), "invalid"],
  ["an error with a code not SFX_", enc('{"type":"error","code":"EVIL","message":"x"}'), "invalid"],
  ["an ID with letters", enc('{"type":"offer","xid":1,"to":"12ab56","files":[{"path":"a","size":1}]}'), "invalid"],
  ["a message over the size cap", enc(`{"type":"ping","n":1,"pad":"${"x".repeat(MAX_CONTROL_BYTES)}"}`), "too-large"],
  ["deeply nested JSON", enc("[".repeat(100_000) + "]".repeat(100_000)), "not-an-object"],
];

for (const [name, bytes, reason] of rejects) {
  test(`decodeMessage() refuses ${name} with reason '${reason}'`, () => {
    try {
      decodeMessage(bytes);
      assert.unreachable("decoded");
    } catch (err) {
      assert.instance(err, ProtocolError);
      assert.is((err as ProtocolError).code, "SFX_PROTOCOL");
      assert.is((err as ProtocolError).reason, reason);
    }
  });
}

test("free text from a peer or server arrives with terminal control characters replaced; names are left to the path check", () => {
  const evil = "\u001b]0;pwned\u0007\u001b[2J\u009b1A\u202eok\ud800";
  const cancel = decodeMessage(enc(JSON.stringify({ type: "cancel", xid: 1, reason: evil }))) as unknown as { reason: string };
  assert.is(cancel.reason, "\ufffd]0;pwned\ufffd\ufffd[2J\ufffd1A\ufffdok\ufffd");
  const err = decodeMessage(enc(JSON.stringify({ type: "error", code: "SFX_IO", message: `disk ${evil}` }))) as unknown as { message: string };
  assert.not.match(err.message, /[\u0000-\u001f\u007f-\u009f\u202e]/);
  const offer = decodeMessage(enc(JSON.stringify({ type: "offer", xid: 1, to: "123456", files: [{ path: "a\u001b.txt", size: 1 }] }))) as unknown as { files: { path: string }[] };
  assert.is(offer.files[0].path, "a\u001b.txt", "unchanged: the receiver refuses it (sanitizeRelativePath)");
});

test("a share's lookup is 64 hex digits and its sealed list base64, so nothing else reaches a path or a parser; times must make valid dates", () => {
  const lookup = "ab".repeat(32);
  const put = (l: string) => enc(JSON.stringify({ type: "share.put", req: 1, lookup: l, files: [{ path: "0", size: 1 }] }));
  assert.is((decodeMessage(put(lookup)) as unknown as { lookup: string }).lookup, lookup);
  for (const bad of ["AB".repeat(32), "ab".repeat(31), "../".repeat(21) + "a", "7KQ2-M9XD-4T1F-HB6R-W3NP-5ZET"]) {
    assert.throws(() => decodeMessage(put(bad)), (e: unknown) => e instanceof ProtocolError, bad);
  }
  const listing = (sealed: string, expiresAt = 2) => enc(JSON.stringify({ type: "share.listing", req: 1, createdAt: 1, expiresAt, maxDownloads: null, downloads: 0, files: [{ path: "0", size: 1, sha256: sha }], sealed }));
  assert.is((decodeMessage(listing("QUJD+/8=")) as unknown as { sealed: string }).sealed, "QUJD+/8=");
  for (const bad of ["", "\u001b]0;owned\u0007", "QUJD=+/8", "a b"]) assert.throws(() => decodeMessage(listing(bad)), (e: unknown) => e instanceof ProtocolError, bad);
  assert.throws(() => decodeMessage(listing("QUJD", 9e15)), (e: unknown) => e instanceof ProtocolError);
  assert.throws(() => decodeMessage(enc(JSON.stringify({ type: "share.created", req: 1, createdAt: 1, expiresAt: 9e15, maxDownloads: null, files: [{ path: "0", size: 1, sha256: sha }] }))), (e: unknown) => e instanceof ProtocolError);
});

test("a welcome's timeouts must fit a timer (a client arms its pings and stall watch from them; past 2^31 - 1 ms Node fires at once, a ping every millisecond)", () => {
  const welcome = (idleTimeoutMs: number, offerTimeoutMs = 1000) =>
    enc(JSON.stringify({ type: "welcome", protocol: 1, id: "482913", server: { name: "box", version: "0.1.0" }, limits: { maxFileSize: 10, maxFilesPerOffer: 5, offerTimeoutMs, idleTimeoutMs } }));
  assert.ok(Welcome.is(decodeMessage(welcome(2 ** 31 - 1))));
  assert.throws(() => decodeMessage(welcome(9e11)), (e: unknown) => e instanceof ProtocolError && /idleTimeoutMs/.test(e.message));
  assert.throws(() => decodeMessage(welcome(1000, 2 ** 31)), (e: unknown) => e instanceof ProtocolError && /offerTimeoutMs/.test(e.message));
});

test("hello accepts unknown fields so a future version can still be told it is incompatible", () => {
  const msg = decodeMessage(enc('{"type":"hello","protocol":9,"client":"sfx 9.0.0","shiny":true}'));
  assert.ok(Hello.is(msg));
  assert.is(msg.protocol, 9);
});

test("defineMessage() plugs a new type into the same decoder, and refuses a duplicate name", () => {
  const Probe = defineMessage("test.probe", { n: int({ max: 3 }), s: string({ max: 4 }) });
  assert.ok(messageTypes().includes("test.probe"));
  const msg = decodeMessage(Probe.encode({ n: 2, s: "ok" }));
  assert.ok(Probe.is(msg));
  assert.is(msg.n, 2);
  assert.throws(() => decodeMessage(enc('{"type":"test.probe","n":4,"s":"ok"}')), /n: must be between/);
  assert.throws(() => defineMessage("test.probe", {}), /already defined/);
});

test("encode() validates what it sends", () => {
  assert.throws(() => Accept.encode({ xid: -3 }), /xid/);
});

test("errorFromMessage() keeps known codes and maps unknown ones to SFX_PROTOCOL", () => {
  assert.is(errorFromMessage({ code: "SFX_PEER_BUSY", message: "m" }).code, "SFX_PEER_BUSY");
  assert.is(errorFromMessage({ code: "SFX_FROM_THE_FUTURE", message: "m" }).code, "SFX_PROTOCOL");
});

test("data PPIDs carry the exchange tag and the file index, and can be retagged", () => {
  const p = dataPpid(5, 41);
  assert.equal(parseDataPpid(p), { tag: 5, fileIndex: 41 });
  assert.equal(parseDataPpid(retagPpid(p, 2048 + 7)), { tag: 7, fileIndex: 41 });
  assert.ok(p < 2 ** 31, "top bit stays clear");
  assert.is(parseDataPpid(0).fileIndex, -1);
});

test("offered exchange ids, the ids the server gives receivers and share request ids are three classes, through the wrap: neither ids nor data tags meet on one connection", () => {
  const ids = (next: (prev: number) => number, from: number) => {
    const out = [];
    for (let i = 0, x = from; i < 4; i++) out.push(x = next(x));
    return out;
  };
  assert.equal(ids(nextExchangeId, 0), [2, 6, 10, 14]);
  assert.equal(ids(nextReceiverExchangeId, 0), [4, 8, 12, 16]);
  assert.equal(ids(nextShareRequestId, 0), [1, 3, 5, 7]);
  assert.equal(ids(nextExchangeId, 2 ** 31 - 10), [2 ** 31 - 6, 2 ** 31 - 2, 2, 6]);
  assert.equal(ids(nextReceiverExchangeId, 2 ** 31 - 12), [2 ** 31 - 8, 2 ** 31 - 4, 4, 8]);
  assert.equal(ids(nextShareRequestId, 2 ** 31 - 5), [2 ** 31 - 3, 1, 3, 5]);
  const tag = (xid: number) => parseDataPpid(dataPpid(xid, 0)).tag;
  for (let x = 0; x < 5000; x += 37) {
    const [a, b, c] = [nextExchangeId(x), nextReceiverExchangeId(x), nextShareRequestId(x)];
    assert.ok(a % 4 === 2 && b % 4 === 0 && c % 2 === 1, `${x}: ${a} ${b} ${c}`);
    assert.ok(tag(a) !== tag(b) && tag(a) !== tag(c) && tag(b) !== tag(c), `${x}: tags of ${a} ${b} ${c}`);
  }
});

test("fitText() cuts a long text in its middle, so that a long path keeps the reason after it; never inside a character", () => {
  const path = "t/" + "é".repeat(2000);
  const message = `Cannot create the directory for ${path}/f.txt: the name is too long for this file system (ENAMETOOLONG)`;
  const cut = fitText(message);
  assert.ok(new TextEncoder().encode(cut).length <= 1024, `${new TextEncoder().encode(cut).length} bytes`);
  assert.ok(cut.startsWith("Cannot create the directory for t/éé"), cut.slice(0, 60));
  assert.ok(cut.endsWith("éé/f.txt: the name is too long for this file system (ENAMETOOLONG)"), cut.slice(-80));
  assert.is(cut.split("…").length, 2);
  assert.not.match(cut, /\ufffd/);
  assert.is(fitText("short"), "short");
  for (let max = 3; max < 12; max++) {
    const c = cutMiddleUtf8("ab€cd€ef€gh", max);
    assert.ok(new TextEncoder().encode(c).length <= max, `${max}: ${c}`);
    assert.not.match(c, /\ufffd/);
  }
});

test.run();
