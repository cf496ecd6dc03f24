/**
 * SCTP packets (RFC 9260 §3.1, §6.8): common header, checksum, bundling,
 * padding — and a cross-check of our encoding by an independent decoder,
 * tshark, with CRC-32C verification on.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Chunk, Packet } from "../../../src/transport/sctp/chunk_types.ts";
import { sctpChecksum } from "../../../src/transport/sctp/crc32c.ts";
import * as E from "../../../src/transport/sctp/error_cause.ts";
import {
  chunkLength,
  COMMON_HEADER_SIZE,
  decodePacket,
  decodePacketUnchecked,
  encodePacket,
  encodePacketInto,
  isPooledPacket,
  packetLength,
  peekHeader,
  releasePacket,
  verifyChecksum,
} from "../../../src/transport/sctp/packet.ts";
import * as P from "../../../src/transport/sctp/param.ts";
import { assertDecodeError, hex, pcapOf, toHex } from "./_codec_helpers.ts";

/** Rewrites bytes 8..11 with the right checksum, so a test can reach the chunk checks. */
function withChecksum(b: Uint8Array): Uint8Array {
  const crc = sctpChecksum(b);
  b[8] = crc;
  b[9] = crc >>> 8;
  b[10] = crc >>> 16;
  b[11] = crc >>> 24;
  return b;
}

const data = (tsn: number, userData: Uint8Array): Chunk => ({
  type: 0, unordered: false, beginning: true, ending: true, immediate: false, tsn, streamId: 1, ssn: tsn & 0xffff, ppid: 51, userData,
});

/** One packet per chunk type (and a few bundles), used by the round-trip and tshark tests. */
const SAMPLES: Array<[string, Chunk[]]> = [
  ["INIT", [{ type: 1, initiateTag: 0x11223344, aRwnd: 131072, outboundStreams: 10, inboundStreams: 8, initialTsn: 1000, params: [P.supportedExtensionsParam([0x40, 0xc0]), P.forwardTsnSupportedParam()] }]],
  ["INIT ACK", [{ type: 2, initiateTag: 0x55667788, aRwnd: 65535, outboundStreams: 8, inboundStreams: 10, initialTsn: 5000, params: [P.stateCookieParam(new Uint8Array(37).fill(7)), P.ipv4AddressParam("127.0.0.1"), P.ipv6AddressParam("::1")] }]],
  ["COOKIE ECHO + DATA", [{ type: 10, cookie: new Uint8Array(37).fill(7) }, data(1000, hex("010203"))]],
  ["COOKIE ACK", [{ type: 11 }]],
  ["DATA ×3 + SACK", [data(2000, hex("aa")), data(2001, hex("bbbb")), data(2002, hex("cccccccc")), { type: 3, cumulativeTsnAck: 1000, aRwnd: 4096, gapBlocks: [{ start: 2, end: 3 }, { start: 5, end: 9 }], duplicateTsns: [999] }]],
  ["I-DATA", [{ type: 64, unordered: true, beginning: false, ending: true, immediate: false, tsn: 3001, streamId: 5, mid: 6, ppid: 0, fsn: 7, userData: new Uint8Array(5) }]],
  ["DATA of 60,000 bytes", [data(4000, Uint8Array.from({ length: 60000 }, (_, i) => i * 7))]],
  ["HEARTBEAT", [{ type: 4, info: new Uint8Array(13).fill(1) }]],
  ["HEARTBEAT + PAD chunk (a PLPMTUD probe)", [{ type: 4, info: new Uint8Array(16).fill(1) }, { type: 132, length: 1400 }]],
  ["HEARTBEAT ACK", [{ type: 5, info: new Uint8Array(13).fill(1) }]],
  ["ABORT", [{ type: 6, tBit: true, causes: [E.userInitiatedAbortCause("bye"), E.staleCookieCause(1234), E.missingMandatoryParameterCause([7])] }]],
  ["ERROR", [{ type: 9, causes: [E.invalidStreamIdentifierCause(9), E.noUserDataCause(77), E.protocolViolationCause("x")] }]],
  ["SHUTDOWN", [{ type: 7, cumulativeTsnAck: 1234 }]],
  ["SHUTDOWN ACK", [{ type: 8 }]],
  ["SHUTDOWN COMPLETE", [{ type: 14, tBit: true }]],
  ["ECNE + CWR", [{ type: 12, lowestTsn: 55 }, { type: 13, lowestTsn: 56 }]],
  ["FORWARD TSN", [{ type: 192, newCumulativeTsn: 2000, streams: [{ streamId: 1, ssn: 2 }] }]],
  ["I-FORWARD-TSN", [{ type: 194, newCumulativeTsn: 2001, streams: [{ streamId: 3, unordered: true, mid: 4 }] }]],
  ["an unknown chunk type", [{ type: 0xbf, flags: 0, value: hex("01"), unknown: true }]],
];
const packetOf = (chunks: Chunk[]): Packet => ({ srcPort: 5000, dstPort: 5001, verificationTag: 0xabcdef01, chunks });

for (const [name, chunks] of SAMPLES) {
  test(`a packet with ${name} round-trips through encodePacket()/decodePacket()`, () => {
    const p = packetOf(chunks);
    const bytes = encodePacket(p);
    assert.is(bytes.length, packetLength(p));
    assert.is(bytes.length, COMMON_HEADER_SIZE + chunks.reduce((n, c) => n + chunkLength(c), 0));
    assert.equal(decodePacket(bytes), p);
  });
}

test("the checksum goes on the wire least significant byte first (as Linux, usrsctp and pion store it)", () => {
  // A header-only packet from pion/sctp's tests, checksum produced by its (interoperating) code.
  assert.ok(verifyChecksum(hex("13881388 00000000 06a900e1")));
  assert.not.ok(verifyChecksum(hex("13881388 00000000 e100a906")), "big-endian order is wrong");
  const bytes = encodePacket(packetOf([{ type: 11 }]));
  const crc = sctpChecksum(bytes);
  assert.is(toHex(bytes.subarray(8, 12)), toHex(Uint8Array.of(crc, crc >>> 8, crc >>> 16, crc >>> 24)));
});

/**
 * Packets captured from usrsctp 0.9.5's echo_server (Debian libusrsctp-examples)
 * answering our INIT, COOKIE ECHO and DATA over UDP encapsulation: an
 * independent encoder's bytes, checksums included.
 */
const USRSCTP: Array<[string, string]> = [
  ["INIT ACK (ECN, Forward-TSN, Supported Extensions, AUTH Random/HMAC/Chunk List, addresses, cookie)",
    "000713880102030462f73fd4020001d0f96b50a300020000000408007772bc8380000004c000000480080009c00fc18082000000800200" +
    "24f30b75dd897ed87ef20302fc0f0378604b59de678d617962949b596c3cb20a6c80040006000100008003000680c1000000060014fd00" +
    "000000000000000000000000000200050008c00002020006001400000000000000000000000000000001000500087f0000010007013c4b" +
    "414d452d42534420312e3100000000ada6026b000000008a470a000000000060ea0000000000000000000004030201f96b50a37f000001" +
    "000000000000000000000000050000007f000001000000000000000000000000050000000000000013880007010100000101010000000000" +
    "010000200102030400100000000400040000006480080006c0400000c0000004020001d0f96b50a300020000000408007772bc83800000" +
    "04c000000480080009c00fc1808200000080020024f30b75dd897ed87ef20302fc0f0378604b59de678d617962949b596c3cb20a6c8004" +
    "0006000100008003000680c1000000060014fd00000000000000000000000000000200050008c0000202000600140000000000000000000000" +
    "0000000001000500087f0000012fa46e73ed2dd64268d1eaccd666ad7cd29b69dc"],
  ["COOKIE ACK", "0007138801020304ec4e8b8b0b000004"],
  ["SACK", "000713880102030413b83e4203000010000000640002000000000000"],
  ["DATA with 3 bytes of padding", "000713880102030435ca471b0003001d7772bc83000100000000003368656c6c6f2075737273637470000000"],
];

for (const [name, bytes] of USRSCTP) {
  test(`a ${name} packet captured from usrsctp verifies, decodes, and re-encodes byte for byte`, () => {
    const b = hex(bytes);
    assert.ok(verifyChecksum(b));
    const p = decodePacket(b);
    assert.is(p.srcPort, 7);
    assert.is(p.verificationTag, 0x01020304);
    assert.is(toHex(encodePacket(p)), toHex(b));
  });
}

test("the usrsctp INIT ACK's fields and parameters decode to what usrsctp sent", () => {
  const p = decodePacket(hex(USRSCTP[0][1]));
  const c = p.chunks[0] as { type: number; initiateTag: number; aRwnd: number; outboundStreams: number; inboundStreams: number; params: Array<{ type: number; value: Uint8Array }> };
  assert.is(c.type, 2);
  assert.is(c.initiateTag, 0xf96b50a3);
  assert.is(c.aRwnd, 131072);
  assert.is(c.outboundStreams, 4);
  assert.is(c.inboundStreams, 2048);
  assert.equal(c.params.map((x) => x.type), [0x8000, 0xc000, 0x8008, 0x8002, 0x8004, 0x8003, 6, 5, 6, 5, 7]);
  assert.equal(P.parseSupportedExtensions(c.params[2]), [0xc0, 0x0f, 0xc1, 0x80, 0x82]);
  assert.is(P.parseIpv4Address(c.params[9]), "127.0.0.1");
  assert.is(P.parseIpv6Address(c.params[8]), "::1");
  assert.is(c.params[10].value.length, 0x13c - 4);
  const data = decodePacket(hex(USRSCTP[3][1])).chunks[0] as { userData: Uint8Array; ppid: number; streamId: number };
  assert.is(new TextDecoder().decode(data.userData), "hello usrsctp");
  assert.is(data.ppid, 51);
  assert.is(data.streamId, 1);
});

test("decodePacket() rejects a packet shorter than 12 bytes with short-packet", () => {
  for (const n of [0, 1, 11]) assertDecodeError(() => decodePacket(new Uint8Array(n)), "short-packet", `${n} bytes`);
  assertDecodeError(() => decodePacketUnchecked(new Uint8Array(4)), "short-packet", "unchecked");
});

test("decodePacket() rejects every single-bit corruption of a packet with bad-checksum", () => {
  const good = encodePacket(packetOf(SAMPLES[4][1]));
  for (let bit = 0; bit < good.length * 8; bit++) {
    const bad = good.slice();
    bad[bit >>> 3] ^= 1 << (bit & 7);
    assert.not.ok(verifyChecksum(bad), `bit ${bit}`);
    if (bit % 97 === 0) assertDecodeError(() => decodePacket(bad), "bad-checksum", `bit ${bit}`);
  }
});

test("decodePacket() rejects a header with no chunks, and 1–3 stray bytes after the last chunk", () => {
  assertDecodeError(() => decodePacket(withChecksum(hex("13881388 00000001 00000000"))), "no-chunks", "no chunks");
  for (const stray of ["00", "0000", "000000"]) {
    assertDecodeError(() => decodePacket(withChecksum(hex(`13881388 00000001 00000000 | 0b00 0004 | ${stray}`))), "chunk-truncated", stray);
  }
});

test("decodePacket() accepts a last chunk without its padding, and ignores padding contents", () => {
  const p = decodePacket(withChecksum(hex("13881388 00000001 00000000 | 0a00 0005 ab")));
  assert.equal(p.chunks, [{ type: 10, cookie: hex("ab") }]);
  const q = decodePacket(withChecksum(hex("13881388 00000001 00000000 | 0a00 0005 ab ffffff | 0b00 0004")));
  assert.equal(q.chunks, [{ type: 10, cookie: hex("ab") }, { type: 11 }]);
});

test("a malformed chunk anywhere makes the whole packet fail with that chunk's reason", () => {
  assertDecodeError(
    () => decodePacket(withChecksum(hex("13881388 00000001 00000000 | 0b00 0004 | 0700 0004 | 0b00 0004"))),
    "chunk-too-short",
    "short SHUTDOWN in the middle",
  );
});

test("peekHeader() reads ports and tag without the checksum; undefined under 12 bytes", () => {
  assert.equal(peekHeader(hex("13881389 deadbeef ffffffff")), { srcPort: 5000, dstPort: 5001, verificationTag: 0xdeadbeef });
  assert.is(peekHeader(new Uint8Array(11)), undefined);
});

test("encodePacketInto() writes at an offset the same bytes encodePacket() returns", () => {
  const p = packetOf(SAMPLES[4][1]);
  const want = encodePacket(p);
  const out = new Uint8Array(want.length + 10).fill(0xee);
  assert.is(encodePacketInto(p, out, 7), 7 + want.length);
  assert.is(toHex(out.subarray(7, 7 + want.length)), toHex(want));
  assert.ok(verifyChecksum(out.subarray(7, 7 + want.length)));
  assert.throws(() => encodePacketInto(p, new Uint8Array(want.length - 1), 0), (e: unknown) => e instanceof RangeError);
  assert.throws(() => encodePacketInto(p, out, 11), (e: unknown) => e instanceof RangeError);
});

test("every byte of a packet is written (packet buffers are not zeroed first): each sample encodes the same into a buffer full of 0xee", () => {
  for (const [name, chunks] of SAMPLES) {
    const p = packetOf(chunks);
    const clean = new Uint8Array(packetLength(p));
    const dirty = new Uint8Array(packetLength(p)).fill(0xee);
    encodePacketInto(p, clean, 0);
    encodePacketInto(p, dirty, 0);
    assert.is(toHex(dirty), toHex(clean), name);
    assert.is(toHex(encodePacket(p)), toHex(clean), name);
  }
});

test("encodePacket() returns independent buffers: writing one never changes another", () => {
  const a = encodePacket(packetOf([{ type: 11 }]));
  const b = encodePacket(packetOf([{ type: 11 }]));
  const big = encodePacket(packetOf(SAMPLES[6][1]));
  const snapshot = [toHex(b), toHex(big)];
  a.fill(0xff);
  assert.equal([toHex(b), toHex(big)], snapshot);
  for (let i = 0; i < 2000; i++) assert.ok(verifyChecksum(encodePacket(packetOf([data(i, new Uint8Array(i % 1500))]))), `packet ${i}`);
});

test("a released large packet's buffer is reused, and the next packet written over its old bytes is the same as a fresh one", () => {
  const filler = new Uint8Array(60_000).fill(0xee);
  const old = encodePacket(packetOf([data(1, filler)]));
  assert.ok(isPooledPacket(old));
  releasePacket(old);
  // 58,001 bytes of user data: a padded chunk, in a packet of the same 4 KiB size class, every byte on old 0xee bytes.
  const p = packetOf([data(2, new Uint8Array(58_001).fill(3)), { type: 11 }]);
  const reused = encodePacket(p);
  assert.is(reused.buffer, old.buffer, "the released buffer was taken again");
  const fresh = new Uint8Array(packetLength(p));
  encodePacketInto(p, fresh, 0);
  assert.is(toHex(reused), toHex(fresh));
  assert.ok(verifyChecksum(reused));
});

test("a large packet is handed out once per release: a second release, or releasing a foreign buffer, does not give it out twice", () => {
  const big = () => encodePacket(packetOf([data(1, new Uint8Array(20_000))]));
  const a = big();
  releasePacket(a);
  releasePacket(a); // ignored: a is in the pool once
  releasePacket(new Uint8Array(30_000)); // never lent: ignored
  const small = encodePacket(packetOf([{ type: 11 }]));
  assert.not.ok(isPooledPacket(small));
  releasePacket(small); // slab packets are not pooled: ignored
  const b = big();
  const c = big();
  assert.is(b.buffer, a.buffer);
  assert.is.not(c.buffer, a.buffer, "the same buffer would be written by two packets at once");
  assert.is.not(c.buffer, small.buffer);
  assert.ok(isPooledPacket(c));
  releasePacket(c);
  releasePacket(b); // the pool is last in, first out: the next lend is b's buffer
  // A late second release of b, after its buffer was lent again as d, must not lend it a third time.
  const d = big();
  assert.is(d.buffer, b.buffer);
  releasePacket(b);
  const e = big();
  assert.is.not(e.buffer, d.buffer, "d's buffer lent again while d is in use");
  releasePacket(d);
  releasePacket(e);
});

test("a flush's worth of jumbo-frame packets (9,000 B) all come back to the pool and are reused", () => {
  const make = () => encodePacket(packetOf([data(1, new Uint8Array(9000 - 28))]));
  const first = Array.from({ length: 200 }, make);
  for (const p of first) releasePacket(p);
  const buffers = new Set(first.map((p) => p.buffer));
  const again = Array.from({ length: 200 }, make);
  assert.is(again.filter((p) => buffers.has(p.buffer)).length, 200);
  assert.is(new Set(again.map((p) => p.buffer)).size, 200, "each buffer lent once");
  for (const p of again) releasePacket(p);
});

test("decoded user data aliases the datagram (no copy)", () => {
  const bytes = encodePacket(packetOf([data(1, hex("0102030405"))]));
  const c = decodePacket(bytes).chunks[0] as { userData: Uint8Array };
  assert.is(c.userData.buffer, bytes.buffer);
});

// ---- Cross-check with tshark, an independent SCTP decoder ------------------

const TSHARK = spawnSync("tshark", ["--version"], { encoding: "utf8" }).status === 0;
if (!TSHARK) {
  console.error("\n!!!!!!!! tshark is not installed: SKIPPING the tshark cross-check of the SCTP codecs !!!!!!!!");
  console.error("!!!!!!!! install it with: apt-get install -y tshark                                    !!!!!!!!\n");
}

/** The fields we compare, one line per packet, `|`-separated, repeated values `,`-joined. */
const FIELDS = [
  "sctp.checksum.status", "sctp.verification_tag", "sctp.chunk_type", "sctp.chunk_length", "sctp.data_tsn_raw", "sctp.data_sid",
  "sctp.data_payload_proto_id", "sctp.data_mid", "sctp.data_fsn", "sctp.init_initiate_tag", "sctp.initack_initiate_tag",
  "sctp.parameter_type", "sctp.sack_cumulative_tsn_ack_raw", "sctp.sack_gap_block_start", "sctp.sack_gap_block_end",
  "sctp.sack_duplicate_tsn", "sctp.cause_code", "sctp.cause_measure_of_staleness", "sctp.shutdown_cumulative_tsn_ack",
  "sctp.abort_t_bit", "sctp.ecne_lowest_tsn", "sctp.cwr_lowest_tsn", "sctp.forward_tsn_tsn", "sctp.i_forward_tsn_u_bit",
  "_ws.malformed", "_ws.expert.message",
];

/** What tshark must report for each sample, by field (fields not listed must be empty, except chunk_length). */
const EXPECT: Record<string, Record<string, string>> = {
  "INIT": { "sctp.chunk_type": "1", "sctp.init_initiate_tag": "0x11223344", "sctp.parameter_type": "0x8008,0xc000" },
  "INIT ACK": { "sctp.chunk_type": "2", "sctp.initack_initiate_tag": "0x55667788", "sctp.parameter_type": "0x0007,0x0005,0x0006" },
  "COOKIE ECHO + DATA": { "sctp.chunk_type": "10,0", "sctp.data_tsn_raw": "1000", "sctp.data_sid": "0x0001", "sctp.data_payload_proto_id": "51" },
  "COOKIE ACK": { "sctp.chunk_type": "11" },
  "DATA ×3 + SACK": {
    "sctp.chunk_type": "0,0,0,3", "sctp.data_tsn_raw": "2000,2001,2002", "sctp.data_sid": "0x0001,0x0001,0x0001", "sctp.data_payload_proto_id": "51,51,51",
    "sctp.sack_cumulative_tsn_ack_raw": "1000", "sctp.sack_gap_block_start": "2,5", "sctp.sack_gap_block_end": "3,9", "sctp.sack_duplicate_tsn": "999",
  },
  "I-DATA": { "sctp.chunk_type": "64", "sctp.data_tsn_raw": "3001", "sctp.data_sid": "0x0005", "sctp.data_mid": "6", "sctp.data_fsn": "7" },
  "DATA of 60,000 bytes": { "sctp.chunk_type": "0", "sctp.data_tsn_raw": "4000", "sctp.data_sid": "0x0001", "sctp.data_payload_proto_id": "51" },
  "HEARTBEAT": { "sctp.chunk_type": "4", "sctp.parameter_type": "0x0001" },
  "HEARTBEAT + PAD chunk (a PLPMTUD probe)": { "sctp.chunk_type": "4,132", "sctp.parameter_type": "0x0001" },
  "HEARTBEAT ACK": { "sctp.chunk_type": "5", "sctp.parameter_type": "0x0001" },
  "ABORT": { "sctp.chunk_type": "6", "sctp.abort_t_bit": "1", "sctp.cause_code": "0x000c,0x0003,0x0002", "sctp.cause_measure_of_staleness": "1234" },
  "ERROR": { "sctp.chunk_type": "9", "sctp.cause_code": "0x0001,0x0009,0x000d" },
  "SHUTDOWN": { "sctp.chunk_type": "7", "sctp.shutdown_cumulative_tsn_ack": "1234" },
  "SHUTDOWN ACK": { "sctp.chunk_type": "8" },
  "SHUTDOWN COMPLETE": { "sctp.chunk_type": "14" },
  "ECNE + CWR": { "sctp.chunk_type": "12,13", "sctp.ecne_lowest_tsn": "55", "sctp.cwr_lowest_tsn": "56" },
  "FORWARD TSN": { "sctp.chunk_type": "192", "sctp.forward_tsn_tsn": "2000" },
  "I-FORWARD-TSN": { "sctp.chunk_type": "194", "sctp.i_forward_tsn_u_bit": "1" },
  "an unknown chunk type": { "sctp.chunk_type": "191" },
};

function tsharkLines(packets: Uint8Array[], extra: string[] = []): string[] {
  const dir = mkdtempSync(join(tmpdir(), "sfx-sctp-tshark-"));
  try {
    const file = join(dir, "packets.pcap");
    writeFileSync(file, pcapOf(packets));
    const r = spawnSync("tshark", [
      "-r", file, "-o", "sctp.checksum:CRC-32C", "-o", "sctp.tsn_analysis:FALSE", ...extra,
      "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,", ...FIELDS.flatMap((f) => ["-e", f]),
    ], { encoding: "utf8", timeout: 30_000 });
    assert.is(r.status, 0, `tshark failed: ${r.stderr}`);
    return r.stdout.split("\n").filter((l) => l !== "");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

(TSHARK ? test : test.skip)("tshark decodes every packet we encode with a correct CRC-32C and the same field values", () => {
  const lines = tsharkLines(SAMPLES.map(([, chunks]) => encodePacket(packetOf(chunks))));
  assert.is(lines.length, SAMPLES.length);
  SAMPLES.forEach(([name, chunks], i) => {
    const got = Object.fromEntries(lines[i].split("|").map((v, k) => [FIELDS[k], v]));
    assert.is(got["sctp.checksum.status"], "1", `${name}: checksum status (1 = good)`);
    assert.is(got["sctp.verification_tag"], "0xabcdef01", `${name}: tag`);
    assert.is(got["_ws.malformed"], "", `${name}: tshark calls it malformed (${got["_ws.expert.message"]})`);
    assert.is(got["_ws.expert.message"], "", `${name}: tshark expert note`);
    assert.is(got["sctp.chunk_length"], chunks.map((c) => String(chunkLengthField(c))).join(","), `${name}: chunk lengths`);
    for (const f of FIELDS.slice(4, 24)) assert.is(got[f], EXPECT[name][f] ?? "", `${name}: ${f}`);
  });
});

(TSHARK ? test : test.skip)("tshark reports a corrupted checksum as bad (so the check above can fail)", () => {
  const bad = encodePacket(packetOf([{ type: 11 }]));
  bad[8] ^= 0x01;
  const swapped = encodePacket(packetOf([{ type: 11 }]));
  swapped.subarray(8, 12).reverse();
  const lines = tsharkLines([bad, swapped]);
  assert.is(lines[0].split("|")[0], "0");
  assert.is(lines[1].split("|")[0], "0", "the checksum in big-endian order is wrong");
});

(TSHARK ? test : test.skip)("tshark sees a HEARTBEAT's PAD parameter as trailing padding (it expects only Heartbeat Info)", () => {
  // Documented difference: RFC 9260 §3.3.5 gives HEARTBEAT one Heartbeat Info
  // TLV; Wireshark reads what follows as that parameter's padding and notes
  // it. The packet is still well-formed SCTP and its checksum good.
  const [line] = tsharkLines([encodePacket(packetOf([{ type: 4, info: new Uint8Array(16), padding: 100 }]))]);
  const got = line.split("|");
  assert.is(got[0], "1");
  assert.is(got[FIELDS.indexOf("sctp.chunk_length")], String(4 + 20 + 104));
});

/** The Chunk Length field value: encoded length without trailing padding. */
function chunkLengthField(c: Chunk): number {
  const bytes = encodePacket(packetOf([c]));
  return (bytes[14] << 8) | bytes[15];
}

test.run();
