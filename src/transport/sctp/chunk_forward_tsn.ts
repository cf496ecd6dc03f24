/**
 * FORWARD TSN (RFC 3758 §3.2) and I-FORWARD-TSN (RFC 8260 §2.3.1) chunk
 * codecs, for partial reliability (PR-SCTP).
 *
 * @module
 */

import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { ForwardTsnChunk, IForwardTsnChunk } from "./chunk_types.ts";
import { SctpDecodeError } from "./decode_error.ts";

/*
 * RFC 3758 §3.2, FORWARD TSN:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 192  |  Flags = 0x00 |        Length = Variable      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      New Cumulative TSN                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Stream-1              |       Stream Sequence-1       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               /
 * /                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Stream-N              |       Stream Sequence-N       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

function checkEntries(name: string, length: number, entrySize: number): number {
  checkMinLength(name, length, 8);
  if ((length - 8) % entrySize !== 0) {
    throw new SctpDecodeError("chunk-length-mismatch", `SCTP ${name} length ${length} is not 8 + a multiple of ${entrySize}`);
  }
  return (length - 8) / entrySize;
}

/** Decodes FORWARD TSN; rejects a Length that is not 8 plus whole 4-byte stream entries. */
export function decodeForwardTsn(buf: Uint8Array, off: number, length: number): ForwardTsnChunk {
  const n = checkEntries("FORWARD TSN", length, 4);
  const streams = new Array<{ streamId: number; ssn: number }>(n);
  for (let i = 0, p = off + 8; i < n; i++, p += 4) streams[i] = { streamId: readU16(buf, p), ssn: readU16(buf, p + 2) };
  return { type: 192, newCumulativeTsn: readU32(buf, off + 4), streams };
}

/** Writes FORWARD TSN `c` at `out[off]`. */
export function encodeForwardTsn(c: ForwardTsnChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 192, 0, 8 + 4 * c.streams.length);
  writeU32(out, off + 4, c.newCumulativeTsn);
  let p = off + 8;
  for (const s of c.streams) {
    writeU16(out, p, s.streamId);
    writeU16(out, p + 2, s.ssn);
    p += 4;
  }
  return p;
}

/** FORWARD TSN's entry in the chunk codec table. */
export const forwardTsnCodec: ChunkCodec<ForwardTsnChunk> = {
  name: "FORWARD TSN",
  decode: decodeForwardTsn,
  length: (c) => 8 + 4 * c.streams.length,
  encode: encodeForwardTsn,
};

/*
 * RFC 8260 §2.3.1, I-FORWARD-TSN:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 194  |  Flags = 0x00 |      Length = Variable        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       New Cumulative TSN                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       Stream Identifier       |          Reserved           |U|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Message Identifier                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                                                               /
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       Stream Identifier       |          Reserved           |U|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Message Identifier                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Decodes I-FORWARD-TSN; rejects a Length that is not 8 plus whole 8-byte stream entries. */
export function decodeIForwardTsn(buf: Uint8Array, off: number, length: number): IForwardTsnChunk {
  const n = checkEntries("I-FORWARD-TSN", length, 8);
  const streams = new Array<{ streamId: number; unordered: boolean; mid: number }>(n);
  for (let i = 0, p = off + 8; i < n; i++, p += 8) {
    streams[i] = { streamId: readU16(buf, p), unordered: (buf[p + 3] & 1) !== 0, mid: readU32(buf, p + 4) };
  }
  return { type: 194, newCumulativeTsn: readU32(buf, off + 4), streams };
}

/** Writes I-FORWARD-TSN `c` at `out[off]`. */
export function encodeIForwardTsn(c: IForwardTsnChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 194, 0, 8 + 8 * c.streams.length);
  writeU32(out, off + 4, c.newCumulativeTsn);
  let p = off + 8;
  for (const s of c.streams) {
    writeU16(out, p, s.streamId);
    writeU16(out, p + 2, s.unordered ? 1 : 0);
    writeU32(out, p + 4, s.mid);
    p += 8;
  }
  return p;
}

/** I-FORWARD-TSN's entry in the chunk codec table. */
export const iForwardTsnCodec: ChunkCodec<IForwardTsnChunk> = {
  name: "I-FORWARD-TSN",
  decode: decodeIForwardTsn,
  length: (c) => 8 + 8 * c.streams.length,
  encode: encodeIForwardTsn,
};
