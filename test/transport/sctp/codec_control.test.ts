/**
 * Control chunk codecs — INIT, INIT ACK, SACK, HEARTBEAT(+ACK), ABORT, ERROR,
 * SHUTDOWN, SHUTDOWN ACK, SHUTDOWN COMPLETE, COOKIE ECHO, COOKIE ACK, ECNE,
 * CWR, PAD, FORWARD TSN, I-FORWARD-TSN, and unknown types: known bytes both
 * ways (written by hand from the RFC diagrams), round trips, and byte strings
 * that must be rejected.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chunkLength, decodeChunk, encodeChunk, isKnownChunkType, isUnknownChunk } from "../../../src/transport/sctp/chunk.ts";
import { heartbeatPaddingFor } from "../../../src/transport/sctp/chunk_heartbeat.ts";
import { padChunkFor } from "../../../src/transport/sctp/chunk_pad.ts";
import { CAUSE, PARAM } from "../../../src/transport/sctp/chunk_types.ts";
import type { Chunk, HeartbeatChunk } from "../../../src/transport/sctp/chunk_types.ts";
import { outOfResourceCause, protocolViolationCause, userInitiatedAbortCause } from "../../../src/transport/sctp/error_cause.ts";
import { encodePacket } from "../../../src/transport/sctp/packet.ts";
import { forwardTsnSupportedParam, stateCookieParam, supportedExtensionsParam } from "../../../src/transport/sctp/param.ts";
import { assertDecodeError, hex, toHex } from "./_codec_helpers.ts";

/** [name, chunk, its exact encoding including padding] */
const KNOWN: Array<[string, Chunk, string]> = [
  ["INIT with Supported Extensions and Forward-TSN-Supported", {
    type: 1, initiateTag: 0x11223344, aRwnd: 0x100000, outboundStreams: 10, inboundStreams: 8, initialTsn: 0xfffffff0,
    params: [supportedExtensionsParam([0x40, 0xc0]), forwardTsnSupportedParam()],
  }, "01 00 0020 | 11223344 | 00100000 | 000a 0008 | fffffff0 | 8008 0006 40c0 0000 | c000 0004"],
  ["INIT ACK whose last parameter's padding is outside the Chunk Length (§3.2)", {
    type: 2, initiateTag: 0x55667788, aRwnd: 0xffff, outboundStreams: 8, inboundStreams: 10, initialTsn: 1,
    params: [stateCookieParam(hex("0102030405"))],
  }, "02 00 001d | 55667788 | 0000ffff | 0008 000a | 00000001 | 0007 0009 0102030405 000000"],
  ["INIT with no parameters", { type: 1, initiateTag: 1, aRwnd: 0, outboundStreams: 1, inboundStreams: 1, initialTsn: 0, params: [] },
    "01 00 0014 | 00000001 | 00000000 | 0001 0001 | 00000000"],
  ["SACK with one gap block and one duplicate", { type: 3, cumulativeTsnAck: 100, aRwnd: 65536, gapBlocks: [{ start: 2, end: 5 }], duplicateTsns: [99] },
    "03 00 0018 | 00000064 | 00010000 | 0001 0001 | 0002 0005 | 00000063"],
  ["SACK with neither", { type: 3, cumulativeTsnAck: 0xffffffff, aRwnd: 0, gapBlocks: [], duplicateTsns: [] },
    "03 00 0010 | ffffffff | 00000000 | 0000 0000"],
  ["SACK with three gap blocks", { type: 3, cumulativeTsnAck: 1, aRwnd: 2, gapBlocks: [{ start: 2, end: 2 }, { start: 4, end: 6 }, { start: 0xfffe, end: 0xffff }], duplicateTsns: [] },
    "03 00 001c | 00000001 | 00000002 | 0003 0000 | 0002 0002 | 0004 0006 | fffe ffff"],
  ["HEARTBEAT", { type: 4, info: hex("deadbeef") }, "04 00 000c | 0001 0008 deadbeef"],
  ["HEARTBEAT with 8 bytes of PAD parameter", { type: 4, info: hex("aabbcc"), padding: 8 },
    "04 00 0018 | 0001 0007 aabbcc 00 | 8005 000c 0000000000000000"],
  ["HEARTBEAT ACK with empty info", { type: 5, info: new Uint8Array(0) }, "05 00 0008 | 0001 0004"],
  ["ABORT with the T bit, User-Initiated Abort and Out of Resource", { type: 6, tBit: true, causes: [userInitiatedAbortCause("bye"), outOfResourceCause()] },
    "06 01 0010 | 000c 0007 627965 00 | 0004 0004"],
  ["ABORT with no causes", { type: 6, tBit: false, causes: [] }, "06 00 0004"],
  ["ERROR with Protocol Violation", { type: 9, causes: [protocolViolationCause("oops!")] }, "09 00 000d | 000d 0009 6f6f707321 000000"],
  ["SHUTDOWN", { type: 7, cumulativeTsnAck: 100 }, "07 00 0008 | 00000064"],
  ["SHUTDOWN ACK", { type: 8 }, "08 00 0004"],
  ["SHUTDOWN COMPLETE with the T bit", { type: 14, tBit: true }, "0e 01 0004"],
  ["SHUTDOWN COMPLETE", { type: 14, tBit: false }, "0e 00 0004"],
  ["COOKIE ECHO", { type: 10, cookie: hex("0102030405") }, "0a 00 0009 | 0102030405 000000"],
  ["COOKIE ACK", { type: 11 }, "0b 00 0004"],
  ["ECNE", { type: 12, lowestTsn: 16 }, "0c 00 0008 | 00000010"],
  ["CWR", { type: 13, lowestTsn: 17 }, "0d 00 0008 | 00000011"],
  ["PAD of 7 bytes", { type: 132, length: 7 }, "84 00 000b | 00000000000000 00"],
  ["FORWARD TSN with two streams", { type: 192, newCumulativeTsn: 100, streams: [{ streamId: 1, ssn: 2 }, { streamId: 3, ssn: 4 }] },
    "c0 00 0010 | 00000064 | 0001 0002 | 0003 0004"],
  ["I-FORWARD-TSN with one unordered stream", { type: 194, newCumulativeTsn: 100, streams: [{ streamId: 5, unordered: true, mid: 7 }] },
    "c2 00 0010 | 00000064 | 0005 0001 | 00000007"],
  ["an unknown chunk type, kept raw", { type: 0xff, flags: 7, value: hex("aabbcc"), unknown: true }, "ff 07 0007 | aabbcc 00"],
  ["RE-CONFIG (no codec: unknown)", { type: 130, flags: 0, value: hex("000d0008"), unknown: true }, "82 00 0008 | 000d0008"],
];

for (const [name, chunk, bytes] of KNOWN) {
  test(`${name}: encodes to the RFC layout and decodes back`, () => {
    const want = hex(bytes);
    assert.is(chunkLength(chunk), want.length, "chunkLength");
    const out = new Uint8Array(want.length + 8).fill(0xee);
    assert.is(encodeChunk(chunk, out, 4), 4 + want.length);
    assert.is(toHex(out.subarray(4, 4 + want.length)), toHex(want));
    const { chunk: back, next } = decodeChunk(want, 0);
    assert.equal(back, chunk);
    assert.is(next, want.length);
  });
}

test("a final chunk whose padding is missing is accepted (the receiver ignores padding, §3.2)", () => {
  const bytes = hex("0a 00 0009 | 0102030405");
  const { chunk, next } = decodeChunk(bytes, 0);
  assert.equal(chunk, { type: 10, cookie: hex("0102030405") });
  assert.is(next, bytes.length);
});

test("chunks with more bytes than their type needs decode, ignoring the extra (as Linux does)", () => {
  assert.equal(decodeChunk(hex("07 00 000c | 00000064 | ffffffff"), 0).chunk, { type: 7, cumulativeTsnAck: 100 });
  assert.equal(decodeChunk(hex("08 00 0008 | 00000000"), 0).chunk, { type: 8 });
  assert.equal(decodeChunk(hex("03 00 0014 | 00000001 | 00000002 | 0000 0000 | 00000000"), 0).chunk,
    { type: 3, cumulativeTsnAck: 1, aRwnd: 2, gapBlocks: [], duplicateTsns: [] });
});

test("HEARTBEAT decode finds Heartbeat Info whatever the parameter order, and ignores other parameters", () => {
  const c = decodeChunk(hex("04 00 0015 | 8005 0004 | 1234 0005 ff 000000 | 0001 0005 77 000000"), 0).chunk as HeartbeatChunk;
  assert.equal(c, { type: 4, info: hex("77") });
});

test("INIT decode keeps unknown parameters as {type, value}", () => {
  const c = decodeChunk(hex("01 00 001c | 00000001 | 00000002 | 0003 0004 | 00000005 | abcd 0006 0102 0000"), 0).chunk;
  assert.equal(c, { type: 1, initiateTag: 1, aRwnd: 2, outboundStreams: 3, inboundStreams: 4, initialTsn: 5, params: [{ type: 0xabcd, value: hex("0102") }] });
});

test("heartbeatPaddingFor() sizes a HEARTBEAT-only packet exactly to a probe size", () => {
  for (const [size, infoLen] of [[1200, 8], [1472, 13], [65504, 40], [4000, 0]]) {
    const padding = heartbeatPaddingFor(size, infoLen);
    const hb: HeartbeatChunk = { type: 4, info: new Uint8Array(infoLen), padding };
    assert.is(encodePacket({ srcPort: 1, dstPort: 2, verificationTag: 3, chunks: [hb] }).length, size, `size ${size}`);
  }
  assert.is(heartbeatPaddingFor(20, 8), 0);
});

test("padChunkFor() gives a PAD chunk taking exactly the bytes asked (rounded down to 4)", () => {
  for (const n of [4, 8, 100, 1473]) assert.is(chunkLength(padChunkFor(n)), n & ~3);
  assert.throws(() => padChunkFor(3), (e: unknown) => e instanceof RangeError);
});

test("isUnknownChunk() and isKnownChunkType() tell codec-less types apart", () => {
  assert.ok(isUnknownChunk(decodeChunk(hex("3f 00 0004"), 0).chunk));
  assert.not.ok(isUnknownChunk(decodeChunk(hex("0b 00 0004"), 0).chunk));
  for (const t of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 64, 132, 192, 194]) assert.ok(isKnownChunkType(t), `type ${t}`);
  for (const t of [15, 63, 128, 130, 193, 255]) assert.not.ok(isKnownChunkType(t), `type ${t}`);
});

test("encodeChunk() rejects a known type in an unknown shape's place with a TypeError, and >64 KiB with a RangeError", () => {
  assert.throws(() => encodeChunk({ type: 77 } as unknown as Chunk, new Uint8Array(8), 0), (e: unknown) => e instanceof TypeError);
  assert.throws(() => encodeChunk({ type: 10, cookie: new Uint8Array(70000) }, new Uint8Array(70008), 0), (e: unknown) => e instanceof RangeError);
  assert.throws(() => encodeChunk({ type: 7, cumulativeTsnAck: 1 }, new Uint8Array(7), 0), (e: unknown) => e instanceof RangeError);
  assert.throws(() => encodeChunk({ type: 3, cumulativeTsnAck: 1, aRwnd: 1, gapBlocks: [{ start: 1, end: 2 }], duplicateTsns: [] }, new Uint8Array(24), 8), (e: unknown) => e instanceof RangeError);
  assert.throws(
    () => encodeChunk({ type: 1, initiateTag: 1, aRwnd: 1, outboundStreams: 1, inboundStreams: 1, initialTsn: 1, params: [{ type: PARAM.STATE_COOKIE, value: new Uint8Array(65535) }] }, new Uint8Array(70000), 0),
    (e: unknown) => e instanceof RangeError,
  );
});

/** [name, bytes, SctpDecodeError reason] */
const REJECT: Array<[string, string, string]> = [
  ["a 3-byte chunk header", "0b 00 00", "chunk-truncated"],
  ["an unknown chunk with Length 2", "ff 00 0002", "chunk-too-short"],
  ["an unknown chunk whose Length overruns the buffer", "ff 00 0010 aabb", "chunk-truncated"],
  ["INIT with Length 19", "01 00 0013 | 00000001 00000002 0003 0004 000005", "chunk-too-short"],
  ["INIT whose Length (24) exceeds the 20 bytes present", "01 00 0018 | 00000001 00000002 0003 0004 00000005", "chunk-truncated"],
  ["INIT whose parameter Length overruns the chunk", "01 00 001c | 00000001 00000002 0003 0004 00000005 | 0007 000c 01020304", "param-truncated"],
  ["INIT whose parameter Length is 3", "01 00 001c | 00000001 00000002 0003 0004 00000005 | 0007 0003 00000000", "param-too-short"],
  ["INIT with 2 stray bytes after its parameters", "01 00 0016 | 00000001 00000002 0003 0004 00000005 | 0007 0000", "param-truncated"],
  ["INIT ACK whose second parameter overruns the chunk", "02 00 001e | 00000001 00000002 0003 0004 00000005 | c000 0004 | 0007 0009 0102", "param-truncated"],
  ["SACK with Length 12", "03 00 000c | 00000001 00000002 0000", "chunk-too-short"],
  ["SACK declaring a gap block it does not carry", "03 00 0010 | 00000001 00000002 0001 0000", "chunk-length-mismatch"],
  ["SACK declaring 65535 duplicate TSNs", "03 00 0014 | 00000001 00000002 0000 ffff 00000009", "chunk-length-mismatch"],
  ["HEARTBEAT without Heartbeat Info", "04 00 0008 | 8005 0004", "missing-parameter"],
  ["HEARTBEAT with no parameters", "04 00 0004", "missing-parameter"],
  ["HEARTBEAT ACK whose Heartbeat Info overruns the chunk", "05 00 0008 | 0001 0010", "param-truncated"],
  ["HEARTBEAT whose Heartbeat Info Length is 0", "04 00 0008 | 0001 0000", "param-too-short"],
  ["ABORT whose cause overruns the chunk", "06 00 0008 | 000c 0008", "cause-truncated"],
  ["ABORT whose cause Length is 2", "06 00 0008 | 000c 0002", "cause-too-short"],
  ["ERROR with a 2-byte partial cause header", "09 00 0006 | 000c 00 00", "cause-truncated"],
  ["SHUTDOWN with Length 4", "07 00 0004", "chunk-too-short"],
  ["SHUTDOWN with Length 7", "07 00 0007 | 00000000", "chunk-too-short"],
  ["ECNE with Length 4", "0c 00 0004", "chunk-too-short"],
  ["CWR with Length 6", "0d 00 0006 | 0000 0000", "chunk-too-short"],
  ["FORWARD TSN with Length 6", "c0 00 0006 | 0000 0000", "chunk-too-short"],
  ["FORWARD TSN with half a stream entry", "c0 00 000a | 00000064 0001 0000", "chunk-length-mismatch"],
  ["I-FORWARD-TSN with half a stream entry", "c2 00 000c | 00000064 0005 0001", "chunk-length-mismatch"],
];

for (const [name, bytes, reason] of REJECT) {
  test(`decodeChunk() rejects ${name} with SctpDecodeError "${reason}"`, () => {
    assertDecodeError(() => decodeChunk(hex(bytes), 0), reason, name);
  });
}

test("CAUSE codes used above are the RFC's", () => {
  assert.is(CAUSE.USER_INITIATED_ABORT, 12);
  assert.is(CAUSE.OUT_OF_RESOURCE, 4);
  assert.is(CAUSE.PROTOCOL_VIOLATION, 13);
});

test.run();
