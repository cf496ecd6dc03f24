/**
 * SHUTDOWN chunk codec (RFC 9260 §3.3.8).
 *
 * @module
 */

import { readU32, writeU32 } from "./bytes.ts";
import type { ChunkCodec } from "./chunk.ts";
import { checkMinLength, writeChunkHeader } from "./chunk_header.ts";
import type { ShutdownChunk } from "./chunk_types.ts";

/*
 * RFC 9260 §3.3.8:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 7    |  Chunk Flags  |          Length = 8           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Cumulative TSN Ack                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Decodes SHUTDOWN (Length ≥ 8; bytes beyond 8 are ignored, as Linux does). */
export function decodeShutdown(buf: Uint8Array, off: number, length: number): ShutdownChunk {
  checkMinLength("SHUTDOWN", length, 8);
  return { type: 7, cumulativeTsnAck: readU32(buf, off + 4) };
}

/** Writes SHUTDOWN `c` at `out[off]`. */
export function encodeShutdown(c: ShutdownChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 7, 0, 8);
  writeU32(out, off + 4, c.cumulativeTsnAck);
  return off + 8;
}

/** SHUTDOWN's entry in the chunk codec table. */
export const shutdownCodec: ChunkCodec<ShutdownChunk> = { name: "SHUTDOWN", decode: decodeShutdown, length: () => 8, encode: encodeShutdown };
