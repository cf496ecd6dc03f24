/**
 * DATA chunk codec (RFC 9260 §3.3.1, I bit from RFC 7053 §3).
 *
 * @module
 */

import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { DataChunk } from "./chunk_types.ts";

/** Bytes before the user data: chunk header, TSN, stream, SSN, PPID. */
export const DATA_CHUNK_HEADER_SIZE = 16;

/** Flag bits shared by DATA and I-DATA (RFC 9260 §3.3.1, RFC 7053 §3, RFC 8260 §2.1). */
export const DATA_FLAGS = { END: 0x01, BEGINNING: 0x02, UNORDERED: 0x04, IMMEDIATE: 0x08 } as const;

/** The DATA/I-DATA flag byte for `c`. */
export function dataFlags(c: { unordered: boolean; beginning: boolean; ending: boolean; immediate: boolean }): number {
  return (c.ending ? 1 : 0) | (c.beginning ? 2 : 0) | (c.unordered ? 4 : 0) | (c.immediate ? 8 : 0);
}

/*
 * RFC 9260 §3.3.1:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 0    |  Res  |I|U|B|E|            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                              TSN                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Stream Identifier S      |   Stream Sequence Number n    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  Payload Protocol Identifier                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                 User Data (seq n of Stream S)                 /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/**
 * Decodes a DATA chunk at `buf[off]` whose Length field is `length`.
 * `userData` is a `subarray` of `buf` (no copy). A DATA chunk with no user
 * data (Length = 16) is decoded, not rejected: §3.3.1 makes it a protocol
 * error that the association answers with an ABORT carrying a No User Data
 * cause (§3.3.10.9), which it can only do if it sees the chunk.
 */
export function decodeData(buf: Uint8Array, off: number, length: number, flags: number): DataChunk {
  checkMinLength("DATA", length, DATA_CHUNK_HEADER_SIZE);
  return {
    type: 0,
    unordered: (flags & 4) !== 0,
    beginning: (flags & 2) !== 0,
    ending: (flags & 1) !== 0,
    immediate: (flags & 8) !== 0,
    tsn: readU32(buf, off + 4),
    streamId: readU16(buf, off + 8),
    ssn: readU16(buf, off + 10),
    ppid: readU32(buf, off + 12),
    userData: buf.subarray(off + DATA_CHUNK_HEADER_SIZE, off + length),
  };
}

/** Writes `c` at `out[off]` (no padding); returns the offset after its user data. */
export function encodeData(c: DataChunk, out: Uint8Array, off: number): number {
  const length = DATA_CHUNK_HEADER_SIZE + c.userData.length;
  writeChunkHeader(out, off, 0, dataFlags(c), length);
  writeU32(out, off + 4, c.tsn);
  writeU16(out, off + 8, c.streamId);
  writeU16(out, off + 10, c.ssn);
  writeU32(out, off + 12, c.ppid);
  out.set(c.userData, off + DATA_CHUNK_HEADER_SIZE);
  return off + length;
}

/** DATA's entry in the chunk codec table. */
export const dataCodec: ChunkCodec<DataChunk> = {
  name: "DATA",
  decode: decodeData,
  length: (c) => DATA_CHUNK_HEADER_SIZE + c.userData.length,
  encode: encodeData,
};
