/**
 * SHUTDOWN ACK chunk codec (RFC 9260 §3.3.9): a header and nothing else.
 *
 * @module
 */

import type { ChunkCodec } from "./chunk.ts";
import { CHUNK_HEADER_SIZE, writeChunkHeader } from "./chunk_header.ts";
import type { EmptyChunk } from "./chunk_types.ts";

/*
 * RFC 9260 §3.3.9:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 8    |  Chunk Flags  |          Length = 4           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */

/** Decodes SHUTDOWN ACK (value bytes, if any, are ignored). */
export function decodeShutdownAck(): EmptyChunk {
  return { type: 8 };
}

/** Writes SHUTDOWN ACK at `out[off]`. */
export function encodeShutdownAck(_c: EmptyChunk, out: Uint8Array, off: number): number {
  writeChunkHeader(out, off, 8, 0, CHUNK_HEADER_SIZE);
  return off + CHUNK_HEADER_SIZE;
}

/** SHUTDOWN ACK's entry in the chunk codec table. */
export const shutdownAckCodec: ChunkCodec<EmptyChunk> = {
  name: "SHUTDOWN ACK",
  decode: decodeShutdownAck,
  length: () => CHUNK_HEADER_SIZE,
  encode: encodeShutdownAck,
};
