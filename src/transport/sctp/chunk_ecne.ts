/**
 * ECNE, ECN Echo, chunk codec (RFC 9260 Appendix A). sfx does not announce
 * ECN Capable, so it should never receive one; decoding it keeps a
 * misbehaving peer's ECNE from being mistaken for an unknown chunk.
 *
 * @module
 */

import { readU32, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { EcneChunk } from "./chunk_types.ts";

/*
 * RFC 9260 Appendix A (and RFC 4960 Appendix A):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 12   | Flags = 0x00  |          Length = 8           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Lowest TSN Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Decodes ECNE (Length ≥ 8). */
export function decodeEcne(buf: Uint8Array, off: number, length: number): EcneChunk {
  checkMinLength("ECNE", length, 8);
  return { type: 12, lowestTsn: readU32(buf, off + 4) };
}

/** Writes ECNE `c` at `out[off]`. */
export function encodeEcne(c: EcneChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 12, 0, 8);
  writeU32(out, off + 4, c.lowestTsn);
  return off + 8;
}

/** ECNE's entry in the chunk codec table. */
export const ecneCodec: ChunkCodec<EcneChunk> = { name: "ECNE", decode: decodeEcne, length: () => 8, encode: encodeEcne };
