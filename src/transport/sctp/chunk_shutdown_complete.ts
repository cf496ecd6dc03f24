/**
 * SHUTDOWN COMPLETE chunk codec (RFC 9260 §3.3.13).
 *
 * @module
 */

import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import type { ShutdownCompleteChunk } from "./chunk_types.ts";

/*
 * RFC 9260 §3.3.13:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 14   |  Reserved   |T|          Length = 4           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * T bit: the sender had no TCB and reflected the Verification Tag.
 */

/** Decodes SHUTDOWN COMPLETE. */
export function decodeShutdownComplete(_buf: Uint8Array, _off: number, _length: number, flags: number): ShutdownCompleteChunk {
  return { type: 14, tBit: (flags & 1) !== 0 };
}

/** Writes SHUTDOWN COMPLETE `c` at `out[off]`. */
export function encodeShutdownComplete(c: ShutdownCompleteChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 14, c.tBit ? 1 : 0, CHUNK_HEADER_SIZE);
  return off + CHUNK_HEADER_SIZE;
}

/** SHUTDOWN COMPLETE's entry in the chunk codec table. */
export const shutdownCompleteCodec: ChunkCodec<ShutdownCompleteChunk> = {
  name: "SHUTDOWN COMPLETE",
  decode: decodeShutdownComplete,
  length: () => CHUNK_HEADER_SIZE,
  encode: encodeShutdownComplete,
};
