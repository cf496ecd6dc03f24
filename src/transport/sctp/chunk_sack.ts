/**
 * SACK chunk codec (RFC 9260 §3.3.4).
 *
 * The codec checks that the declared gap blocks and duplicate TSNs fit in the
 * chunk; whether the blocks make sense (start ≤ end, ascending, inside the
 * window) is the association's decision (§6.2.1).
 *
 * @module
 */

import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { SackChunk } from "./chunk_types.ts";
import { SctpDecodeError } from "./decode_error.ts";

/** Bytes of a SACK before its gap blocks. */
export const SACK_CHUNK_FIXED_SIZE = 16;

/*
 * RFC 9260 §3.3.4:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 3    |  Chunk Flags  |         Chunk Length          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Cumulative TSN Ack                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Advertised Receiver Window Credit (a_rwnd)           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Number of Gap Ack Blocks = N  |  Number of Duplicate TSNs = M |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Gap Ack Block #1 Start     |     Gap Ack Block #1 End      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * /                                                               /
 * \                              ...                              \
 * /                                                               /
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Gap Ack Block #N Start     |     Gap Ack Block #N End      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Duplicate TSN 1                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * /                                                               /
 * \                              ...                              \
 * /                                                               /
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Duplicate TSN M                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Gap block Start/End are offsets from the Cumulative TSN Ack: the block
 * covers TSNs cumTsnAck+Start … cumTsnAck+End inclusive.
 */

/** Decodes a SACK; rejects one whose declared blocks and duplicates overrun its Length. */
export function decodeSack(buf: Uint8Array, off: number, length: number): SackChunk {
  checkMinLength("SACK", length, SACK_CHUNK_FIXED_SIZE);
  const nGaps = readU16(buf, off + 12);
  const nDups = readU16(buf, off + 14);
  const need = SACK_CHUNK_FIXED_SIZE + 4 * (nGaps + nDups);
  if (need > length) {
    throw new SctpDecodeError(
      "chunk-length-mismatch",
      `SCTP SACK declares ${nGaps} gap blocks and ${nDups} duplicate TSNs (${need} bytes) but has length ${length}`,
    );
  }
  const gapBlocks = new Array<{ start: number; end: number }>(nGaps);
  let p = off + SACK_CHUNK_FIXED_SIZE;
  for (let i = 0; i < nGaps; i++, p += 4) gapBlocks[i] = { start: readU16(buf, p), end: readU16(buf, p + 2) };
  const duplicateTsns = new Array<number>(nDups);
  for (let i = 0; i < nDups; i++, p += 4) duplicateTsns[i] = readU32(buf, p);
  return { type: 3, cumulativeTsnAck: readU32(buf, off + 4), aRwnd: readU32(buf, off + 8), gapBlocks, duplicateTsns };
}

/** Writes SACK `c` at `out[off]`. */
export function encodeSack(c: SackChunk, out: Uint8Array, off: number): number {
  const nGaps = c.gapBlocks.length;
  const nDups = c.duplicateTsns.length;
  if (nGaps > 0xffff || nDups > 0xffff) throw new RangeError(`SCTP SACK with ${nGaps} gap blocks and ${nDups} duplicates does not fit`);
  writeChunkHeader(out, off, 3, 0, SACK_CHUNK_FIXED_SIZE + 4 * (nGaps + nDups));
  writeU32(out, off + 4, c.cumulativeTsnAck);
  writeU32(out, off + 8, c.aRwnd);
  writeU16(out, off + 12, nGaps);
  writeU16(out, off + 14, nDups);
  let p = off + SACK_CHUNK_FIXED_SIZE;
  for (let i = 0; i < nGaps; i++, p += 4) {
    writeU16(out, p, c.gapBlocks[i].start);
    writeU16(out, p + 2, c.gapBlocks[i].end);
  }
  for (let i = 0; i < nDups; i++, p += 4) writeU32(out, p, c.duplicateTsns[i]);
  return p;
}

/** SACK's entry in the chunk codec table. */
export const sackCodec: ChunkCodec<SackChunk> = {
  name: "SACK",
  decode: decodeSack,
  length: (c) => SACK_CHUNK_FIXED_SIZE + 4 * (c.gapBlocks.length + c.duplicateTsns.length),
  encode: encodeSack,
};
