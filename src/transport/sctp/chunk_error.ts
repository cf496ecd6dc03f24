/**
 * ERROR chunk codec (RFC 9260 §3.3.10).
 *
 * @module
 */

import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import type { ErrorChunk } from "./chunk_types.ts";
import { causesLength, decodeCausesIn, writeCauses } from "./error_cause.ts";

/*
 * RFC 9260 §3.3.10:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 9    | Chunk  Flags  |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                   one or more Error Causes                    /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * "One or more": an ERROR with no cause is decoded (empty `causes`) rather
 * than rejected, as it carries nothing to act on either way.
 */

/** Decodes ERROR; cause `info` aliases `buf`. */
export function decodeError(buf: Uint8Array, off: number, length: number): ErrorChunk {
  return { type: 9, causes: decodeCausesIn(buf, off + CHUNK_HEADER_SIZE, off + length) };
}

/** Writes ERROR `c` at `out[off]`. */
export function encodeError(c: ErrorChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 9, 0, CHUNK_HEADER_SIZE + causesLength(c.causes));
  return writeCauses(out, off + CHUNK_HEADER_SIZE, c.causes);
}

/** ERROR's entry in the chunk codec table. */
export const errorCodec: ChunkCodec<ErrorChunk> = {
  name: "ERROR",
  decode: decodeError,
  length: (c) => CHUNK_HEADER_SIZE + causesLength(c.causes),
  encode: encodeError,
};
