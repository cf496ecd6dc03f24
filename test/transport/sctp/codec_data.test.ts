/**
 * DATA (RFC 9260 §3.3.1) and I-DATA (RFC 8260 §2.1) codecs: known bytes both
 * ways, round trips, and byte strings that must be rejected.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chunkLength, decodeChunk, encodeChunk } from "../../../src/transport/sctp/chunk.ts";
import type { Chunk, DataChunk, IDataChunk } from "../../../src/transport/sctp/chunk_types.ts";
import { DATA_CHUNK_HEADER_SIZE, IDATA_CHUNK_HEADER_SIZE } from "../../../src/transport/sctp/packet.ts";
import { assertDecodeError, hex, toHex } from "./_codec_helpers.ts";

const data = (over: Partial<DataChunk>): DataChunk => ({
  type: 0, unordered: false, beginning: true, ending: true, immediate: false,
  tsn: 1, streamId: 0, ssn: 0, ppid: 0, userData: new Uint8Array(0), ...over,
});
const idata = (over: Partial<IDataChunk>): IDataChunk => ({
  type: 64, unordered: false, beginning: true, ending: true, immediate: false,
  tsn: 1, streamId: 0, mid: 0, ppid: 0, fsn: 0, userData: new Uint8Array(0), ...over,
});

/** [name, chunk, its exact encoding including padding] */
const KNOWN: Array<[string, Chunk, string]> = [
  ["DATA, I+B+E, 3 bytes of user data and 1 byte of padding", data({ immediate: true, tsn: 7, streamId: 3, ssn: 4, ppid: 0x33, userData: hex("010203") }),
    "00 0b 0013 | 00000007 | 0003 0004 | 00000033 | 010203 00"],
  ["DATA, unordered middle fragment, TSN and PPID near 2^32", data({ unordered: true, beginning: false, ending: false, tsn: 0xfffffffe, streamId: 0xffff, ssn: 0xfffe, ppid: 0xffffffff, userData: hex("aabbccdd") }),
    "00 04 0014 | fffffffe | ffff fffe | ffffffff | aabbccdd"],
  ["DATA, last fragment, 5 bytes (3 of padding)", data({ beginning: false, tsn: 9, ppid: 51, userData: hex("0102030405") }),
    "00 01 0015 | 00000009 | 0000 0000 | 00000033 | 0102030405 000000"],
  ["I-DATA, first fragment carries the PPID", idata({ ending: false, tsn: 0x01020304, streamId: 5, mid: 9, ppid: 0x35, userData: hex("aa") }),
    "40 02 0015 | 01020304 | 0005 0000 | 00000009 | 00000035 | aa 000000"],
  ["I-DATA, later fragment carries the FSN", idata({ beginning: false, unordered: true, immediate: true, tsn: 2, streamId: 1, mid: 0xffffffff, fsn: 7, userData: hex("bbcc") }),
    "40 0d 0016 | 00000002 | 0001 0000 | ffffffff | 00000007 | bbcc 0000"],
];

for (const [name, chunk, bytes] of KNOWN) {
  test(`${name}: encodes to the RFC layout and decodes back`, () => {
    const want = hex(bytes);
    assert.is(chunkLength(chunk), want.length);
    const out = new Uint8Array(want.length + 4).fill(0xee); // padding must be written as zeros
    assert.is(encodeChunk(chunk, out, 2), 2 + want.length);
    assert.is(toHex(out.subarray(2, 2 + want.length)), toHex(want));
    const { chunk: back, next } = decodeChunk(want, 0);
    assert.equal(back, chunk);
    assert.is(next, want.length);
  });
}

test("DATA and I-DATA decode alias the datagram's user data instead of copying it", () => {
  for (const bytes of [hex("00 03 0014 00000001 0000 0000 00000000 01020304"), hex("40 03 0018 00000001 0000 0000 00000000 00000000 01020304")]) {
    const c = decodeChunk(bytes, 0).chunk as DataChunk | IDataChunk;
    assert.is(c.userData.buffer, bytes.buffer);
    assert.is(c.userData.byteOffset, bytes.length - 4);
    assert.is(c.userData.length, 4);
  }
});

test("DATA and I-DATA with no user data decode (userData empty), for the association to answer with No User Data", () => {
  const d = decodeChunk(hex("00 03 0010 00000005 0001 0002 00000000"), 0).chunk as DataChunk;
  assert.is(d.type, 0);
  assert.is(d.userData.length, 0);
  assert.is(d.tsn, 5);
  const i = decodeChunk(hex("40 03 0014 00000005 0001 0000 00000000 00000000"), 0).chunk as IDataChunk;
  assert.is(i.type, 64);
  assert.is(i.userData.length, 0);
});

test("the header size constants match the layouts", () => {
  assert.is(DATA_CHUNK_HEADER_SIZE, 16);
  assert.is(IDATA_CHUNK_HEADER_SIZE, 20);
  assert.is(chunkLength(data({ userData: new Uint8Array(1000) })), 1016);
  assert.is(chunkLength(idata({ userData: new Uint8Array(1001) })), 1024);
});

test("I-DATA encodes the PPID only when B is set and the FSN otherwise", () => {
  const first = idata({ ppid: 0x11, fsn: 0x22 });
  const later = idata({ beginning: false, ppid: 0x11, fsn: 0x22 });
  const enc = (c: Chunk) => {
    const out = new Uint8Array(chunkLength(c));
    encodeChunk(c, out, 0);
    return toHex(out.subarray(16, 20));
  };
  assert.is(enc(first), "00000011");
  assert.is(enc(later), "00000022");
});

test("encodeChunk() refuses a DATA chunk longer than 65535 bytes with a RangeError", () => {
  const c = data({ userData: new Uint8Array(65536 - 16) });
  assert.throws(() => encodeChunk(c, new Uint8Array(70000), 0), (e: unknown) => e instanceof RangeError);
});

/** [name, bytes, SctpDecodeError reason] */
const REJECT: Array<[string, string, string]> = [
  ["a truncated chunk header", "00 03 00", "chunk-truncated"],
  ["DATA with Length 15 (< 16)", "00 03 000f 00000001 0001 0002 000000", "chunk-too-short"],
  ["DATA with Length 4", "00 03 0004", "chunk-too-short"],
  ["DATA with Length 0", "00 03 0000 00000001 0001 0002 00000000", "chunk-too-short"],
  ["DATA whose Length (20) exceeds the 16 bytes present", "00 03 0014 00000001 0001 0002 00000000", "chunk-truncated"],
  ["DATA whose Length (0xffff) exceeds the buffer", "00 03 ffff 00000001 0001 0002 00000000 01020304", "chunk-truncated"],
  ["I-DATA with Length 19 (< 20)", "40 03 0013 00000001 0001 0000 00000001 000000", "chunk-too-short"],
  ["I-DATA with Length 16 (a DATA-sized header)", "40 03 0010 00000001 0001 0000 00000001", "chunk-too-short"],
  ["I-DATA whose Length (24) exceeds the 20 bytes present", "40 03 0018 00000001 0001 0000 00000001 00000000", "chunk-truncated"],
];

for (const [name, bytes, reason] of REJECT) {
  test(`decodeChunk() rejects ${name} with SctpDecodeError "${reason}"`, () => {
    assertDecodeError(() => decodeChunk(hex(bytes), 0), reason, name);
  });
}

test.run();
