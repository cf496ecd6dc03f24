/**
 * I-DATA chunk codec (RFC 8260 §2.1): DATA with a 32-bit Message Identifier
 * and a Fragment Sequence Number, so messages on different streams can be
 * interleaved.
 *
 * @module
 */

import { readU16, readU32, writeU16, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { dataFlags } from "./chunk_data.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { IDataChunk } from "./chunk_types.ts";

/** Bytes before the user data: chunk header, TSN, stream, reserved, MID, PPID/FSN. */
export const IDATA_CHUNK_HEADER_SIZE = 20;

/*
 * RFC 8260 §2.1:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 64   |  Res  |I|U|B|E|       Length = Variable       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                              TSN                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        Stream Identifier      |           Reserved            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Message Identifier                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    Payload Protocol Identifier / Fragment Sequence Number     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * \                                                               \
 * /                           User Data                           /
 * \                                                               \
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The fifth word is the PPID in the first fragment (B bit set) and the FSN
 * in every other; the first fragment's FSN is 0 implicitly.
 */

/**
 * Decodes an I-DATA chunk. `userData` is a `subarray` of `buf`. When
 * `beginning`, `ppid` is the fifth word and `fsn` is 0; otherwise `fsn` is
 * the fifth word and `ppid` is 0. Empty user data is decoded, not rejected
 * (the association answers it with No User Data, RFC 8260 §2.1 / RFC 9260 §3.3.1).
 */
export function decodeIData(buf: Uint8Array, off: number, length: number, flags: number): IDataChunk {
  checkMinLength("I-DATA", length, IDATA_CHUNK_HEADER_SIZE);
  const beginning = (flags & 2) !== 0;
  const word = readU32(buf, off + 16);
  return {
    type: 64,
    unordered: (flags & 4) !== 0,
    beginning,
    ending: (flags & 1) !== 0,
    immediate: (flags & 8) !== 0,
    tsn: readU32(buf, off + 4),
    streamId: readU16(buf, off + 8),
    mid: readU32(buf, off + 12),
    ppid: beginning ? word : 0,
    fsn: beginning ? 0 : word,
    userData: buf.subarray(off + IDATA_CHUNK_HEADER_SIZE, off + length),
  };
}

/** Writes `c` at `out[off]` (no padding): the PPID when `beginning`, else the FSN. */
export function encodeIData(c: IDataChunk, out: Uint8Array, off: number): number {
  const length = IDATA_CHUNK_HEADER_SIZE + c.userData.length;
  writeChunkHeader(out, off, 64, dataFlags(c), length);
  writeU32(out, off + 4, c.tsn);
  writeU16(out, off + 8, c.streamId);
  writeU16(out, off + 10, 0);
  writeU32(out, off + 12, c.mid);
  writeU32(out, off + 16, c.beginning ? c.ppid : c.fsn);
  out.set(c.userData, off + IDATA_CHUNK_HEADER_SIZE);
  return off + length;
}

/** I-DATA's entry in the chunk codec table. */
export const iDataCodec: ChunkCodec<IDataChunk> = {
  name: "I-DATA",
  decode: decodeIData,
  length: (c) => IDATA_CHUNK_HEADER_SIZE + c.userData.length,
  encode: encodeIData,
};
