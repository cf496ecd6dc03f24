/**
 * ABORT chunk codec (RFC 9260 §3.3.7).
 *
 * @module
 */

import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import type { AbortChunk } from "./chunk_types.ts";
import { causesLength, decodeCausesIn, writeCauses } from "./error_cause.ts";

/*
 * RFC 9260 §3.3.7:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 6    |  Reserved   |T|            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                   zero or more Error Causes                   /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * T bit: set when the sender had no TCB and reflected the Verification Tag.
 */

/** Decodes ABORT; cause `info` aliases `buf`. */
export function decodeAbort(buf: Uint8Array, off: number, length: number, flags: number): AbortChunk {
  return { type: 6, tBit: (flags & 1) !== 0, causes: decodeCausesIn(buf, off + CHUNK_HEADER_SIZE, off + length) };
}

/** Writes ABORT `c` at `out[off]`. */
export function encodeAbort(c: AbortChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 6, c.tBit ? 1 : 0, CHUNK_HEADER_SIZE + causesLength(c.causes));
  return writeCauses(out, off + CHUNK_HEADER_SIZE, c.causes);
}

/** ABORT's entry in the chunk codec table. */
export const abortCodec: ChunkCodec<AbortChunk> = {
  name: "ABORT",
  decode: decodeAbort,
  length: (c) => CHUNK_HEADER_SIZE + causesLength(c.causes),
  encode: encodeAbort,
};
