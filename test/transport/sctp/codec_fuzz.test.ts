/**
 * Fuzzing the packet decoder with a fixed seed: random byte strings and
 * mutated valid packets. The decoder must only ever return a packet or throw
 * SctpDecodeError — never RangeError/TypeError, never hang — and whatever it
 * accepts must re-encode and decode to the same packet.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Chunk, Packet } from "../../../src/transport/sctp/chunk_types.ts";
import { sctpChecksum } from "../../../src/transport/sctp/crc32c.ts";
import { SctpDecodeError } from "../../../src/transport/sctp/decode_error.ts";
import * as E from "../../../src/transport/sctp/error_cause.ts";
import { decodePacket, decodePacketUnchecked, encodePacket } from "../../../src/transport/sctp/packet.ts";
import * as P from "../../../src/transport/sctp/param.ts";
import { hex, prng, randomBytes, toHex } from "./_codec_helpers.ts";

const SEED = 0x5c7b2026;
const INPUTS = 100_000;

function fixChecksum(b: Uint8Array): Uint8Array {
  if (b.length < 12) return b;
  const crc = sctpChecksum(b);
  b[8] = crc;
  b[9] = crc >>> 8;
  b[10] = crc >>> 16;
  b[11] = crc >>> 24;
  return b;
}

const d = (tsn: number, n: number): Chunk => ({
  type: 0, unordered: (tsn & 1) === 1, beginning: true, ending: false, immediate: false, tsn, streamId: 2, ssn: 3, ppid: 51, userData: new Uint8Array(n).fill(tsn),
});

/** Valid packets to mutate: every chunk type, bundles, parameters, causes. */
const SEEDS: Uint8Array[] = ([
  [{ type: 1, initiateTag: 1, aRwnd: 2, outboundStreams: 3, inboundStreams: 4, initialTsn: 5, params: [P.supportedExtensionsParam([0x40, 0xc0]), P.forwardTsnSupportedParam(), P.padParam(5)] }],
  [{ type: 2, initiateTag: 1, aRwnd: 2, outboundStreams: 3, inboundStreams: 4, initialTsn: 5, params: [P.stateCookieParam(new Uint8Array(33).fill(9)), P.unrecognizedParameterParam({ type: 0x8123, value: hex("01") })] }],
  [{ type: 10, cookie: new Uint8Array(21).fill(3) }, d(7, 11)],
  [d(1, 1), d(2, 2), d(3, 3), { type: 3, cumulativeTsnAck: 9, aRwnd: 10, gapBlocks: [{ start: 2, end: 3 }], duplicateTsns: [4, 5] }],
  [{ type: 64, unordered: false, beginning: true, ending: true, immediate: true, tsn: 4, streamId: 5, mid: 6, ppid: 7, fsn: 0, userData: hex("0102030405") }],
  [{ type: 4, info: hex("0102030405"), padding: 9 }, { type: 5, info: hex("aa") }],
  [{ type: 6, tBit: false, causes: [E.userInitiatedAbortCause("why"), E.unrecognizedChunkTypeCause(hex("49000005aa"))] }],
  [{ type: 9, causes: [E.missingMandatoryParameterCause([7, 8]), E.unrecognizedParametersCause([{ type: 0x8001, value: hex("0203") }])] }],
  [{ type: 7, cumulativeTsnAck: 1 }, { type: 8 }, { type: 11 }, { type: 14, tBit: true }, { type: 12, lowestTsn: 1 }, { type: 13, lowestTsn: 2 }],
  [{ type: 132, length: 13 }, { type: 192, newCumulativeTsn: 3, streams: [{ streamId: 1, ssn: 2 }] }, { type: 194, newCumulativeTsn: 4, streams: [{ streamId: 1, unordered: true, mid: 2 }] }],
  [{ type: 0x81, flags: 0xff, value: hex("0102030405060708"), unknown: true }],
] as Chunk[][]).map((chunks) => encodePacket({ srcPort: 1, dstPort: 2, verificationTag: 3, chunks }));

function mutate(next: () => number, input: Uint8Array): Uint8Array {
  let b = input.slice();
  const n = 1 + (next() % 4);
  for (let k = 0; k < n; k++) {
    const at = b.length > 0 ? next() % b.length : 0;
    switch (next() % 7) {
      case 0: // flip a bit
        if (b.length) b[at] ^= 1 << (next() % 8);
        break;
      case 1: // set a byte to an edge value
        if (b.length) b[at] = [0, 1, 3, 4, 0x7f, 0x80, 0xfe, 0xff][next() % 8];
        break;
      case 2: // truncate
        b = b.subarray(0, next() % (b.length + 1));
        break;
      case 3: { // append random bytes
        const extra = randomBytes(next, next() % 9);
        const c = new Uint8Array(b.length + extra.length);
        c.set(b);
        c.set(extra, b.length);
        b = c;
        break;
      }
      case 4: // overwrite a 16-bit word (often a length field) with an edge value
        if (b.length >= 2) {
          const w = [0, 1, 2, 3, 4, 5, 8, 12, 16, 19, 20, 0x7fff, 0xfffc, 0xffff][next() % 14];
          const p = Math.min(at & ~1, b.length - 2);
          b[p] = w >>> 8;
          b[p + 1] = w;
        }
        break;
      case 5: { // splice in bytes from another seed
        const other = SEEDS[next() % SEEDS.length];
        const from = 12 + (next() % Math.max(1, other.length - 12));
        const len = next() % 24;
        const piece = other.subarray(from, from + len);
        const c = new Uint8Array(Math.max(b.length, at + piece.length));
        c.set(b);
        c.set(piece, at);
        b = c;
        break;
      }
      default: // change a chunk type byte to another known type
        if (b.length > 12) b[12 + ((at - 12 + b.length) % (b.length - 12))] = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 64, 132, 192, 194][next() % 14];
    }
  }
  return b;
}

/** Decodes; returns the packet, null on SctpDecodeError, and fails on anything else. */
function tryDecode(b: Uint8Array, checked: boolean): Packet | null {
  try {
    return checked ? decodePacket(b) : decodePacketUnchecked(b);
  } catch (e) {
    if (e instanceof SctpDecodeError) return null;
    assert.unreachable(`input ${toHex(b)} threw ${String(e)}`);
    return null;
  }
}

test(`${INPUTS} random and mutated packets (seed 0x${SEED.toString(16)}): only SctpDecodeError, and accepted packets re-encode stably`, () => {
  const next = prng(SEED);
  let accepted = 0;
  const reasons = new Set<string>();
  const started = Date.now();
  for (let i = 0; i < INPUTS; i++) {
    let input: Uint8Array;
    const kind = i % 4;
    if (kind === 0) input = randomBytes(next, next() % 160); // noise: mostly fails the checksum
    else if (kind === 1) input = fixChecksum(randomBytes(next, next() % 160)); // noise that reaches the chunk decoders
    else input = mutate(next, SEEDS[next() % SEEDS.length]);
    if (kind === 2) fixChecksum(input);

    const p = tryDecode(input, true);
    const q = tryDecode(input, false);
    if (p) assert.equal(q, p);
    if (q === null) {
      try {
        decodePacketUnchecked(input);
      } catch (e) {
        reasons.add((e as SctpDecodeError).reason);
      }
      continue;
    }
    accepted++;
    // Whatever was accepted must re-encode without throwing and decode to itself.
    assert.equal(decodePacket(encodePacket(q)), q, `unstable re-encoding of ${toHex(input)}`);
    if (Date.now() - started > 50_000) assert.unreachable(`fuzzing too slow: ${i} inputs in 50 s`);
  }
  // The fuzzer must reach both outcomes and many distinct rejections, or it tests nothing.
  assert.ok(accepted > 10_000, `only ${accepted} inputs accepted`);
  assert.ok(reasons.size >= 10, `only reasons ${[...reasons].join(", ")}`);
  console.log(`  fuzz: ${accepted} of ${INPUTS} accepted; rejections: ${[...reasons].sort().join(", ")}`);
});

test("the seed packets themselves decode", () => {
  for (const s of SEEDS) assert.ok(tryDecode(s, true));
});

test.run();
