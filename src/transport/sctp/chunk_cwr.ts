/**
 * CWR, Congestion Window Reduced, chunk codec (RFC 9260 Appendix A).
 *
 * @module
 */

import { readU32, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { CwrChunk } from "./chunk_types.ts";

/*
 * RFC 9260 Appendix A (and RFC 4960 Appendix A):
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 13   | Flags = 0x00  |          Length = 8           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Lowest TSN Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Decodes CWR (Length ≥ 8). */
export function decodeCwr(buf: Uint8Array, off: number, length: number): CwrChunk {
  checkMinLength("CWR", length, 8);
  return { type: 13, lowestTsn: readU32(buf, off + 4) };
}

/** Writes CWR `c` at `out[off]`. */
export function encodeCwr(c: CwrChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 13, 0, 8);
  writeU32(out, off + 4, c.lowestTsn);
  return off + 8;
}

/** CWR's entry in the chunk codec table. */
export const cwrCodec: ChunkCodec<CwrChunk> = { name: "CWR", decode: decodeCwr, length: () => 8, encode: encodeCwr };
